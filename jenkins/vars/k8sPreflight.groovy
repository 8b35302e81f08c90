// k8sPreflight: can the Helm deploy that follows succeed? Runs `preflight check`, publishes its
// JUnit report, and sets the build result; the pure logic is in src/io/kubepreflight/PreflightStep.
//
//   def gate = k8sPreflight(credentialsId: 'kubeconfig-shop', namespace: 'shop', release: 'web')
//
// Result (help: k8sPreflight.txt):
//   exit 0, no warnings -> SUCCESS;  exit 0 with warnings -> unstable() (build UNSTABLE)
//   exit 1 (not ready)  -> error("... root cause: <check>: <message>"), or UNSTABLE with
//                          failOnNotReady: false
//   exit 2 / anything else -> error() with preflight's own one-line reason
// Returns [ready:, exitCode:, rootCause:, warnings:, report:] when it does not fail.
//
// Secrets: the kubeconfig reaches preflight only as the file KUBECONFIG names, set by
// withCredentials (credentials-binding FileBinding: copied to a temporary file, deleted
// afterwards). The script text is a plain String built from quoted values and never contains a
// secret, so nothing secret is interpolated into `sh` (jenkins.io jenkinsfile.adoc,
// "Interpolation of sensitive environment variables").
import io.kubepreflight.PreflightStep
import io.kubepreflight.Verdict

def call(Map config = [:]) {
    Map cfg
    try {
        cfg = PreflightStep.configure(config)
    } catch (IllegalArgumentException e) {
        error(e.message)
    }

    int code = -1
    String json = null
    String stderr = ''
    withKubeconfig(cfg.credentialsId) {
        // returnStatus: the exit code is the answer, not a step failure (help-returnStatus.html).
        code = sh(script: PreflightStep.script(cfg), returnStatus: true)
    }
    if (code in [0, 1] && fileExists(cfg.jsonFile)) {
        json = readFile(file: cfg.jsonFile)
    }
    String errFile = PreflightStep.stderrFile(cfg)
    if (fileExists(errFile)) {
        stderr = readFile(file: errFile)
    }
    if (code in [0, 1]) {
        // preflight writes the JUnit file on every run that got this far, so an absent file is a
        // real fault: allowEmptyResults: false makes junit fail loudly ("No test report files
        // were found"). A <failure> makes junit mark the build UNSTABLE (junit-plugin
        // JUnitResultsStepExecution); not-ready then fails it below. Warnings are <skipped>, so
        // junit leaves them alone and this step calls unstable() itself.
        junit(testResults: cfg.junitFile, allowEmptyResults: false)
    }

    Verdict verdict = PreflightStep.judge(cfg, code, json, stderr)
    if (verdict.log) {
        echo(verdict.log.join('\n'))
    }
    if (verdict.failure) {
        error(verdict.message)
    }
    if (verdict.unstable) {
        unstable(verdict.message)
    }
    return verdict.value
}

// Binds the kubeconfig credential for the body, or runs it with the agent's own configuration.
private void withKubeconfig(String credentialsId, Closure body) {
    if (credentialsId) {
        withCredentials([file(credentialsId: credentialsId, variable: 'KUBECONFIG')]) {
            body()
        }
    } else {
        body()
    }
}
