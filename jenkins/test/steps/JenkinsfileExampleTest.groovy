package steps

import org.junit.jupiter.api.Test
import pipeline.Declarative
import pipeline.FakeJenkins
import pipeline.Reports

import static org.junit.jupiter.api.Assertions.*

/** ../Jenkinsfile.example compiles, and runs as a gate: Deploy happens only when preflight says ready. */
class JenkinsfileExampleTest {
    static final String SECRET = 'kind: Config\nusers: [{name: deployer, user: {token: deployer-secret-93c1}}]\n'

    FakeJenkins j = Library.jenkins().secretFile('kubeconfig-shop-deployer', SECRET)

    Declarative run(int preflightExit, List<Map> checks) {
        j.shell = Reports.preflight(j, preflightExit, checks)
        Declarative.install(j)
        Script jenkinsfile = j.load(new File(Library.dir().parentFile, 'Jenkinsfile.example'))
        Declarative seen = null
        Closure pipeline = j.binding.getVariable('pipeline')
        j.binding.setVariable('pipeline', { Closure body ->
            // Keep a handle on the run to look at its stages afterwards.
            seen = new Declarative(j)
            seen.apply(body, seen)
            seen.execute()
        })
        j.run { jenkinsfile.run() }
        assertNotNull(seen, 'the Jenkinsfile declared a pipeline')
        return seen
    }

    List<String> scripts() {
        return j.callsOf('sh')*.args*.script
    }

    @Test
    void ready_runs_preflight_with_the_environment_then_deploys_with_the_kubeconfig_bound() {
        Declarative p = run(0, Reports.HEALTHY)
        assertEquals('SUCCESS', j.result)
        assertEquals(['Preflight', 'Deploy'], p.ran)
        assertTrue(scripts()[1].contains('.preflight/bin/preflight check --namespace shop --release web '), scripts()[1])
        assertEquals('helm upgrade --install "$RELEASE" ./chart -n "$NAMESPACE" --wait --timeout 5m', scripts()[2])
        Map helmEnv = j.callsOf('sh')[2].env
        assertEquals(['web', 'shop'], [helmEnv.RELEASE, helmEnv.NAMESPACE])
        assertNotNull(helmEnv.KUBECONFIG)
        assertEquals(1, j.callsOf('junit').size())
    }

    @Test
    void not_ready_fails_at_preflight_with_the_root_cause_and_never_deploys() {
        Declarative p = run(1, Reports.BROKEN)
        assertEquals('FAILURE', j.result)
        assertEquals(['Deploy'], p.skipped)
        assertFalse(scripts().any { it.contains('helm') })
        assertTrue(j.failure.startsWith('kube-preflight: NOT READY: root cause: controlplane.leases'), j.failure)
    }

    @Test
    void warnings_deploy_but_leave_the_build_UNSTABLE() {
        Declarative p = run(0, Reports.WARNED)
        assertEquals('UNSTABLE', j.result)
        assertEquals(['Preflight', 'Deploy'], p.ran)
    }

    @Test
    void the_deployers_kubeconfig_never_appears_in_a_script_or_the_log() {
        run(0, Reports.HEALTHY)
        assertFalse(j.visibleTexts().any { it.contains('deployer-secret-93c1') })
    }
}
