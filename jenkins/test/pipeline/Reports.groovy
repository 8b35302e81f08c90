package pipeline

import groovy.json.JsonOutput

/**
 * preflight's report files for simulated runs, in the shapes preflight/_report.py writes:
 * `preflight/v1` JSON and JUnit where fail -> <failure>, error -> <error>, skip and warn ->
 * <skipped> (a warning is a <failure> only with --strict). The cluster tests parse the real ones.
 */
class Reports {
    static Map check(String id, String outcome, String message, String remediation = '') {
        return [id: id, outcome: outcome, message: message, remediation: remediation, evidence: [:], duration_ms: 1]
    }

    static String json(List<Map> checks, boolean strict = false) {
        Map counts = ['pass', 'warn', 'fail', 'skip', 'error'].collectEntries { o -> [o, checks.count { it.outcome == o }] }
        List blocking = ['fail', 'error'] + (strict ? ['warn'] : [])
        int code = checks.any { it.outcome in blocking } ? 1 : 0
        Map root = checks.find { it.outcome in ['fail', 'error'] }
        Map summary = counts + [total: checks.size(), ready: code == 0, exit_code: code, strict: strict, duration_ms: 5,
                                root_cause: root && code ? root.id : null]
        return JsonOutput.prettyPrint(JsonOutput.toJson([schema: 'preflight/v1', checks: checks, summary: summary])) + '\n'
    }

    static String junit(List<Map> checks, boolean strict = false) {
        String cases = checks.collect { Map c ->
            String inner = c.outcome == 'fail' || (strict && c.outcome == 'warn') ? "<failure message=\"${c.message}\"/>" :
                c.outcome == 'error' ? "<error message=\"${c.message}\"/>" :
                c.outcome in ['warn', 'skip'] ? "<skipped message=\"${c.message}\"/>" : ''
            "<testcase classname=\"preflight.${c.id.tokenize('.')[0]}\" name=\"${c.id}\">${inner}</testcase>"
        }.join('\n')
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"preflight\"><testsuite name=\"preflight\">\n${cases}\n</testsuite></testsuites>\n"
    }

    /**
     * A simulated shell for FakeJenkins: a script that runs `preflight ... check` exits with
     * {@code exit} after writing what preflight would (the reports for 0/1, nothing for 2), and
     * {@code stderr}; any other script succeeds.
     */
    static Closure<Integer> preflight(FakeJenkins j, int exit, List<Map> checks, String stderr = '', boolean strict = false) {
        return { String script, Map env ->
            if (!(script =~ /(?m)^\S*preflight check /)) {
                return 0
            }
            new File(j.workspace, 'preflight.stderr').text = stderr
            if (exit in [0, 1]) {
                new File(j.workspace, 'preflight.json').text = json(checks, strict)
                new File(j.workspace, 'preflight-junit.xml').text = junit(checks, strict)
            }
            return exit
        }
    }

    static final List<Map> HEALTHY = [
        check('api.reachable', 'pass', 'v1.37.2 at https://127.0.0.1:6443'),
        check('auth.identity', 'pass', 'kubernetes-admin'),
        check('controlplane.leases', 'pass', 'renewed 2s ago'),
    ]
    static final List<Map> WARNED = HEALTHY + [
        check('tls.serving-cert', 'warn', 'expires in 20 days', 'kubeadm certs renew apiserver'),
    ]
    static final List<Map> BROKEN = [
        check('api.reachable', 'pass', 'v1.37.2 at https://127.0.0.1:6443'),
        check('controlplane.leases', 'fail', 'kube-controller-manager has not renewed its leader lease for 52s:\nno controllers run',
            'restart kube-controller-manager'),
        check('serviceaccount.token', 'fail', 'token Secret ci/jenkins-token is still empty'),
    ]
}
