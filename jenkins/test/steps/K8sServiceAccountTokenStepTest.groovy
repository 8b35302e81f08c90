package steps

import groovy.json.JsonOutput
import org.junit.jupiter.api.Test
import pipeline.FakeJenkins

import static org.junit.jupiter.api.Assertions.*

/** vars/k8sServiceAccountToken.groovy with stubbed steps. */
class K8sServiceAccountTokenStepTest {
    static final String API_TOKEN = 'jenkins-api-token-11e0c9d2'
    static final String KUBECONFIG_SECRET = 'users: [{name: admin, user: {client-key-data: a3ViZWNvbmZpZy1rZXk=}}]\n'
    static final Map SUMMARY = [namespace: 'ci', service_account: 'deployer', secret: 'deployer-token', created: true,
                                identity: 'system:serviceaccount:ci:deployer', server_version: 'v1.37.2', elapsed_seconds: 1.2]

    FakeJenkins j = Library.jenkins()
        .secretFile('kubeconfig-admin', KUBECONFIG_SECRET)
        .usernamePasswordCredential('jenkins-api', 'ci-bot', API_TOKEN)

    Object ensure(Map args) {
        return j.run { j.binding.getVariable('k8sServiceAccountToken').call(args) }
    }

    /** A simulated sa-tokens: writes its JSON (exit 0) or its one-line error, returns {@code exit}. */
    Closure<Integer> saTokens(int exit, String stderr = '') {
        return { String script, Map env ->
            new File(j.workspace, 'sa-tokens.stderr').text = stderr
            if (exit == 0) {
                new File(j.workspace, 'sa-tokens.json').text = JsonOutput.toJson(SUMMARY)
            }
            exit
        }
    }

    @Test
    void runs_exactly_this_script_and_returns_the_result() {
        j.shell = saTokens(0)
        Object value = ensure(credentialsId: 'kubeconfig-admin', namespace: 'ci', serviceAccount: 'deployer',
                              createServiceAccount: true, kubeconfigOut: 'deployer.kubeconfig', wait: '90s')
        assertEquals('''\
rm -f -- sa-tokens.json sa-tokens.stderr
rc=0
sa-tokens ensure --namespace ci --wait 90s --kubeconfig-out deployer.kubeconfig --create-sa -o json -- deployer >sa-tokens.json 2>sa-tokens.stderr || rc=$?
cat -- sa-tokens.stderr >&2
exit "$rc"
''', j.callsOf('sh')[0].args.script)
        assertEquals([[kind: 'file', credentialsId: 'kubeconfig-admin', variable: 'KUBECONFIG']], j.callsOf('withCredentials')[0].args)
        assertEquals('SUCCESS', j.result)
        assertEquals([exitCode: 0, namespace: 'ci', serviceAccount: 'deployer', secret: 'deployer-token', created: true,
                      identity: 'system:serviceaccount:ci:deployer', result: SUMMARY], value)
        assertEquals(['k8sServiceAccountToken: token Secret ci/deployer-token created and verified'], j.callsOf('echo')*.args)
    }

    @Test
    void publishing_passes_the_jenkins_options_and_the_api_token_only_through_the_environment() {
        j.env.JENKINS_URL = 'https://jenkins.example.com/'
        Map seen = [:]
        j.shell = { String s, Map env -> seen.putAll(env); saTokens(0).call(s, env) }
        ensure(credentialsId: 'kubeconfig-admin', namespace: 'ci', serviceAccount: 'deployer', jenkinsCredential: 'kubeconfig-deployer',
               jenkinsFolder: 'team/shop', jenkinsKind: 'file', jenkinsAuthCredentialsId: 'jenkins-api')

        assertEquals([[kind: 'file', credentialsId: 'kubeconfig-admin', variable: 'KUBECONFIG'],
                      [kind: 'usernamePassword', credentialsId: 'jenkins-api', usernameVariable: 'JENKINS_USER_ID',
                       passwordVariable: 'JENKINS_API_TOKEN']], j.callsOf('withCredentials')[0].args)
        assertEquals('sa-tokens ensure --namespace ci --jenkins-url https://jenkins.example.com/ --jenkins-credential kubeconfig-deployer ' +
            '--jenkins-folder team/shop --jenkins-kind file -o json -- deployer >sa-tokens.json 2>sa-tokens.stderr || rc=$?',
            j.callsOf('sh')[0].args.script.readLines()[2])
        assertEquals('ci-bot', seen.JENKINS_USER_ID)
        assertEquals(API_TOKEN, seen.JENKINS_API_TOKEN)
        assertNull(j.env.JENKINS_API_TOKEN)
        // The script does not even name the token's variable: sa-tokens reads its environment.
        assertFalse(j.callsOf('sh')[0].args.script.contains('JENKINS_API_TOKEN'))
        List<String> texts = j.visibleTexts()
        j.secrets().each { String secret -> assertFalse(texts.any { it.contains(secret) }, texts.toString()) }
    }

    @Test
    void an_explicit_jenkinsUrl_wins_over_the_builds_own() {
        j.env.JENKINS_URL = 'https://jenkins.example.com/'
        j.shell = saTokens(0)
        ensure(serviceAccount: 'deployer', jenkinsCredential: 'kc', jenkinsAuthCredentialsId: 'jenkins-api', jenkinsUrl: 'https://other/')
        assertTrue(j.callsOf('sh')[0].args.script.contains('--jenkins-url https://other/ '))
    }

    @Test
    void publishing_without_an_api_credential_or_url_fails_before_anything_runs() {
        ensure(serviceAccount: 'deployer', jenkinsCredential: 'kc')
        assertEquals('FAILURE', j.result)
        assertEquals('k8sServiceAccountToken: publishing to Jenkins (jenkinsCredential) needs jenkinsUrl (or env.JENKINS_URL) ' +
            'and jenkinsAuthCredentialsId', j.failure)
        assertEquals([], j.callsOf('sh'))
    }

    @Test
    void an_api_credential_without_publishing_is_a_mistake() {
        ensure(serviceAccount: 'deployer', jenkinsAuthCredentialsId: 'jenkins-api')
        assertEquals('k8sServiceAccountToken: jenkinsUrl and jenkinsAuthCredentialsId are used only with jenkinsCredential', j.failure)
    }

    @Test
    void the_token_is_never_sent_to_the_build_log() {
        ensure(serviceAccount: 'deployer', tokenOut: '-')
        assertEquals("k8sServiceAccountToken: tokenOut '-' would print the token into the build log; give a file name", j.failure)
        assertEquals([], j.callsOf('sh'))
    }

    @Test
    void serviceAccount_is_required() {
        ensure(namespace: 'ci')
        assertEquals('k8sServiceAccountToken: parameter serviceAccount is required', j.failure)
    }

    @Test
    void a_name_that_looks_like_an_option_stays_a_name() {
        j.shell = saTokens(2, 'sa-tokens: error: ServiceAccount name "--help" is not a DNS-1123 subdomain\n')
        ensure(serviceAccount: '--help')
        assertTrue(j.callsOf('sh')[0].args.script.contains(' -o json -- --help >sa-tokens.json'))
        assertEquals('k8sServiceAccountToken: could not run (exit 2: unusable input or configuration): ' +
            'sa-tokens: error: ServiceAccount name "--help" is not a DNS-1123 subdomain', j.failure)
    }

    @Test
    void exit_1_fails_with_sa_tokens_own_reason() {
        j.shell = saTokens(1, 'sa-tokens: ServiceAccount ci/deployer does not exist (pass --create-sa)\n')
        assertNull(ensure(namespace: 'ci', serviceAccount: 'deployer'))
        assertEquals('FAILURE', j.result)
        assertEquals('k8sServiceAccountToken: could not ensure a token for ServiceAccount ci/deployer: ' +
            'sa-tokens: ServiceAccount ci/deployer does not exist (pass --create-sa)', j.failure)
        assertFalse(j.callsOf('readFile')*.args.contains('sa-tokens.json'))
    }

    @Test
    void exit_0_without_a_result_is_a_failure() {
        j.shell = { String s, Map e -> 0 }
        ensure(serviceAccount: 'deployer')
        assertEquals('k8sServiceAccountToken: sa-tokens exited 0 but its JSON result sa-tokens.json is unusable: the file is missing', j.failure)
    }
}
