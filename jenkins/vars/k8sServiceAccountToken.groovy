// k8sServiceAccountToken: make sure a ServiceAccount has a filled, verified long-lived token
// Secret (`sa-tokens ensure`), optionally publishing it as a Jenkins credential; the pure logic
// is in src/io/kubepreflight/SaTokensStep.
//
//   def t = k8sServiceAccountToken(credentialsId: 'kubeconfig-admin', namespace: 'ci',
//                                  serviceAccount: 'deployer', createServiceAccount: true)
//
// Fails the stage with sa-tokens' own one-line reason on exit 1 or 2. Returns [exitCode:,
// namespace:, serviceAccount:, secret:, created:, identity:, result: <sa-tokens JSON>].
//
// Secrets: the kubeconfig arrives as the file KUBECONFIG names; the Jenkins user and API token
// (jenkinsAuthCredentialsId) as the variables JENKINS_USER_ID and JENKINS_API_TOKEN. The
// script names neither: sa-tokens reads its environment, so the token is in no argv, no script
// text and no log line (credentials-binding masks it too, but "the masking could of course be
// trivially circumvented": BindingStep/help.html).
import io.kubepreflight.SaTokensStep
import io.kubepreflight.Verdict

def call(Map config = [:]) {
    Map cfg
    try {
        cfg = SaTokensStep.configure(config, env.JENKINS_URL)
    } catch (IllegalArgumentException e) {
        error(e.message)
    }

    List bindings = []
    if (cfg.credentialsId) {
        bindings.add(file(credentialsId: cfg.credentialsId, variable: 'KUBECONFIG'))
    }
    if (cfg.jenkinsAuthCredentialsId) {
        bindings.add(usernamePassword(credentialsId: cfg.jenkinsAuthCredentialsId,
            usernameVariable: SaTokensStep.USER_VARIABLE, passwordVariable: SaTokensStep.TOKEN_VARIABLE))
    }
    int code = -1
    if (bindings) {
        withCredentials(bindings) {
            code = sh(script: SaTokensStep.script(cfg), returnStatus: true)
        }
    } else {
        code = sh(script: SaTokensStep.script(cfg), returnStatus: true)
    }
    String json = code == 0 && fileExists(cfg.jsonFile) ? readFile(file: cfg.jsonFile) : null
    String errFile = SaTokensStep.stderrFile(cfg)
    String stderr = fileExists(errFile) ? readFile(file: errFile) : ''

    Verdict verdict = SaTokensStep.judge(cfg, code, json, stderr)
    if (verdict.failure) {
        error(verdict.message)
    }
    echo(verdict.message)
    return verdict.value
}
