package steps

import groovy.json.JsonOutput
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Tag
import org.junit.jupiter.api.Test
import pipeline.Declarative
import pipeline.FakeJenkins
import pipeline.RealShell

import static org.junit.jupiter.api.Assertions.*

/**
 * The steps against the real control plane: every `sh` script they produce runs for real
 * (RealShell: /bin/sh -xe, in a workspace, KUBECONFIG naming a temporary copy of the
 * credential's kubeconfig), and the real exit codes and report files decide the build result.
 *
 * Run by tests/cluster/test_jenkins_library.py, which starts the cluster, puts preflight and
 * sa-tokens on PATH and sets KP_KUBECONFIG (an admin kubeconfig), KP_NAMESPACE (an existing,
 * empty namespace), KP_FLEET_KUBECONFIG (contexts prod-eu, prod-us, staging-1 on the cluster and
 * lab-dead on a refused port) and KP_RUNS (a folder). Each test leaves KP_RUNS/<name>/run.json with its
 * scripts, exit codes and workspace, and the pytest side checks the files from there.
 */
@Tag('cluster')
class ClusterRunTest {
    static String kubeconfig
    static String fleetKubeconfig
    static String namespace
    static File runs

    @BeforeAll
    static void environment() {
        Map<String, String> env = System.getenv()
        List<String> missing = ['KP_KUBECONFIG', 'KP_FLEET_KUBECONFIG', 'KP_NAMESPACE', 'KP_RUNS'].findAll { !env[it] }
        assertEquals([], missing, 'run by tests/cluster/test_jenkins_library.py, which sets these')
        kubeconfig = new File(env.KP_KUBECONFIG).text
        fleetKubeconfig = new File(env.KP_FLEET_KUBECONFIG).text
        namespace = env.KP_NAMESPACE
        runs = new File(env.KP_RUNS)
    }

    /** The values in a kubeconfig that are secret: keys, tokens, passwords. */
    static List<String> secretsOf(String kubeconfigText) {
        List<String> found = (kubeconfigText =~ /(?m)^\s*(client-key-data|token|password):\s*(\S+)\s*$/).collect { it[2] }
        assertFalse(found.isEmpty(), 'a kubeconfig with a credential')
        return found
    }

    Map<String, List<Map>> shells = [:]

    FakeJenkins jenkins(String name) {
        File dir = new File(runs, name)
        dir.deleteDir()
        FakeJenkins j = new FakeJenkins(new File(dir, 'workspace')).library(Library.dir())
        j.secretFile('kubeconfig-admin', kubeconfig, secretsOf(kubeconfig))
        shells[name] = []
        j.shell = RealShell.of(j, shells[name])
        return j
    }

    Object step(FakeJenkins j, String step, Map args) {
        return j.run { j.binding.getVariable(step).call(args) }
    }

    void finish(String name, FakeJenkins j, Object returned) {
        new File(runs, "${name}/run.json").text = JsonOutput.prettyPrint(JsonOutput.toJson(
            [result: j.result, failure: j.failure, returned: returned, sh: shells[name], junit: j.callsOf('junit')*.args]))
        List<String> texts = j.visibleTexts()
        j.secrets().each { String secret -> assertFalse(texts.any { it.contains(secret) }, "${name}: a secret reached a script or the log") }
        shells[name].each { Map run ->
            if (run.kubeconfig) {
                assertTrue(run.kubeconfigExisted as boolean, 'KUBECONFIG named a file while the script ran')
                assertFalse(new File(run.kubeconfig as String).exists(), 'and it was deleted after the block')
            }
        }
    }

    /** The deploy the gate is asked about: a ConfigMap only, so it runs no pods (the harness has no node). */
    static final String CONFIG_ONLY = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: prod\n'

    String configOnlyDeploy(FakeJenkins j) {
        j.workspace.mkdirs()
        new File(j.workspace, 'rendered.yaml').text = CONFIG_ONLY
        return 'rendered.yaml'
    }

    @Test
    void ready() {
        FakeJenkins j = jenkins('ready')
        Object value = step(j, 'k8sPreflight', [credentialsId: 'kubeconfig-admin', namespace: namespace, manifests: configOnlyDeploy(j)])
        finish('ready', j, value)
        assertEquals('SUCCESS', j.result, j.log.join('\n'))
        assertEquals(true, value.ready)
        assertEquals(1, j.callsOf('junit').size())
    }

    @Test
    void warnings() {
        // kubeadm's certificates live a year: within 10 years they all warn.
        FakeJenkins j = jenkins('warnings')
        Object value = step(j, 'k8sPreflight', [credentialsId: 'kubeconfig-admin', namespace: namespace, warnWithin: '3650d',
                                                manifests: configOnlyDeploy(j)])
        finish('warnings', j, value)
        assertEquals('UNSTABLE', j.result)
        assertTrue(value.ready as boolean)
        assertTrue(value.warnings.any { it.startsWith('tls.serving-cert: ') }, value.warnings.toString())
        assertTrue(j.callsOf('unstable')[0].args.startsWith('kube-preflight: ready, with 2 warnings: '), j.callsOf('unstable')[0].args)
    }

    @Test
    void could_not_run() {
        FakeJenkins j = jenkins('could_not_run')
        // A report left by an earlier build must not be taken for this one.
        new File(j.workspace, 'preflight-junit.xml').text = '<testsuites><testsuite><testcase name="old"><failure/></testcase></testsuite></testsuites>'
        new File(j.workspace, 'preflight.json').text = '{"stale": true}'
        step(j, 'k8sPreflight', [credentialsId: 'kubeconfig-admin', namespace: 'kp-no-such-namespace'])
        finish('could_not_run', j, null)
        assertEquals('FAILURE', j.result)
        assertTrue(j.failure.startsWith('kube-preflight could not run (exit 2: unusable input or configuration): ' +
            "preflight: error: namespace 'kp-no-such-namespace' does not exist"), j.failure)
        assertEquals([], j.callsOf('junit'))
    }

    @Test
    void a_new_service_account_token_and_then_a_gate_that_is_not_ready() {
        FakeJenkins j = jenkins('token_then_not_ready')
        Object token = step(j, 'k8sServiceAccountToken', [credentialsId: 'kubeconfig-admin', namespace: namespace,
                                                           serviceAccount: 'jenkins-deployer', createServiceAccount: true,
                                                           kubeconfigOut: 'deployer.kubeconfig'])
        assertEquals('SUCCESS', j.result, j.failure)
        assertEquals([namespace, 'jenkins-deployer', 'jenkins-deployer-token', true],
                     [token.namespace, token.serviceAccount, token.secret, token.created])

        // The ServiceAccount has no RBAC yet: a gate using its kubeconfig must stop the deploy.
        String deployer = new File(j.workspace, 'deployer.kubeconfig').text
        j.secretFile('kubeconfig-deployer', deployer, secretsOf(deployer))
        Object gate = step(j, 'k8sPreflight', [credentialsId: 'kubeconfig-deployer', namespace: namespace])
        finish('token_then_not_ready', j, [token: token, gate: gate])
        assertEquals('FAILURE', j.result)
        assertTrue(j.failure.startsWith('kube-preflight: NOT READY: root cause: auth.permissions: missing 38 of 38 permissions'), j.failure)
    }

    @Test
    void sa_tokens_fails_with_its_reason() {
        FakeJenkins j = jenkins('sa_tokens_fails')
        step(j, 'k8sServiceAccountToken', [credentialsId: 'kubeconfig-admin', namespace: namespace, serviceAccount: 'kp-nobody'])
        finish('sa_tokens_fails', j, null)
        assertEquals('FAILURE', j.result)
        assertEquals("k8sServiceAccountToken: could not ensure a token for ServiceAccount ${namespace}/kp-nobody: ".toString() +
            "sa-tokens: error: ServiceAccount ${namespace}/kp-nobody does not exist (create it, or pass --create-sa)", j.failure)
    }

    @Test
    void fleet_example() {
        FakeJenkins j = jenkins('fleet')
        j.secretFile('fleet-kubeconfig', fleetKubeconfig, secretsOf(fleetKubeconfig))
        // The example's 60s deadline, shortened: the dead context costs the whole deadline.
        String text = new File(Library.dir().parentFile, 'Jenkinsfile.fleet.example').text
        String shorter = text.replace("DEADLINE    = '60s'", "DEADLINE    = '8s'")
        assertNotEquals(text, shorter, 'the example sets DEADLINE')
        File jenkinsfile = new File(runs, 'fleet/Jenkinsfile.fleet.example')
        jenkinsfile.text = shorter
        Declarative.install(j)
        Script script = j.load(jenkinsfile)
        j.run { script.run() }
        finish('fleet', j, [archived: j.archived*.path.sort(), unstable: j.callsOf('unstable')*.args,
                            nodes: j.callsOf('node')*.args, parallel: j.callsOf('parallel')*.args])
        assertEquals('FAILURE', j.result)
        assertEquals('kube-preflight fleet: 1 cluster(s) not ready: lab-dead: api.reachable', j.failure)
        assertEquals(1, j.callsOf('junit').size())
    }

    @Test
    void command_not_found() {
        FakeJenkins j = jenkins('not_found')
        step(j, 'k8sPreflight', [credentialsId: 'kubeconfig-admin', command: 'kp-no-such-preflight'])
        finish('not_found', j, null)
        assertEquals('FAILURE', j.result)
        assertTrue(j.failure.contains("'kp-no-such-preflight' exited 127, which is not a preflight exit code"), j.failure)
        assertTrue(j.failure.endsWith('kp-no-such-preflight: not found'), j.failure)
    }
}
