package pipeline

import groovy.json.JsonOutput

/**
 * `preflight fleet`'s report files for simulated runs, in the shapes preflight/_engine/fleet.py
 * writes: `preflight/fleet/v1` JSON (clusters, calendar, summary) and JUnit with one suite per
 * context. The cluster tests run the real command.
 */
class FleetReports {
    static Map cluster(String context, int exitCode = 0, String rootCause = null, String error = null) {
        return [context: context, verdict: exitCode == 0 ? 'ready' : exitCode == 1 ? 'not ready' : 'not checked',
                exit_code: exitCode, root_cause: rootCause, error: error]
    }

    static Map expiry(String name, String notAfter, String source, List<String> clusters, boolean withinWarning = false) {
        return [name: name, source: source, kind: 'certificate', check: 'tls.serving-cert', not_after: notAfter, seconds_left: 1,
                within_warning: withinWarning, renewed_by: "renew ${name} | restart".toString(), clusters: clusters]
    }

    static String json(List<Map> clusters, List<Map> calendar) {
        int code = clusters.every { it.exit_code == 0 } ? 0 : 1
        Map summary = [contexts: clusters.size(), ready: clusters.count { it.exit_code == 0 }, not_ready: clusters.count { it.exit_code == 1 },
                       not_checked: clusters.count { it.exit_code == 2 }, expiring_within_warning: calendar.count { it.within_warning },
                       exit_code: code, duration_ms: 5]
        return JsonOutput.prettyPrint(JsonOutput.toJson([schema: 'preflight/fleet/v1', clusters: clusters, calendar: calendar,
                                                         summary: summary])) + '\n'
    }

    static String junit(List<Map> clusters) {
        String suites = clusters.collect { Map c ->
            String inner = c.exit_code == 1 ? "<failure message=\"${c.root_cause}\"/>" : c.exit_code == 2 ? "<error message=\"${c.error}\"/>" : ''
            "<testsuite name=\"preflight.${c.context}\"><testcase classname=\"preflight.${c.context}.api\" name=\"api.reachable\">${inner}</testcase></testsuite>"
        }.join('\n')
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"preflight fleet\">\n${suites}\n</testsuites>\n"
    }

    /**
     * A simulated shell: a script running `preflight fleet` for shard $SHARD exits as
     * {@code shards[SHARD].exit} after writing what preflight would (the reports for 0/1, only
     * stderr for 2); any other script succeeds.
     */
    static Closure<Integer> shell(FakeJenkins j, Map<String, Map> shards) {
        return { String script, Map env ->
            if (!(script =~ /(?m)^\S*preflight fleet /)) {
                return 0
            }
            Map shard = shards[env.SHARD]
            int exit = shard.exit as int
            new File(j.workspace, "fleet-${env.SHARD}.stderr").text = shard.stderr ?: "preflight: checking ${shard.clusters?.size()} contexts\n"
            new File(j.workspace, "fleet-${env.SHARD}.json").text = exit in [0, 1] ? json(shard.clusters, shard.calendar ?: []) : ''
            if (exit in [0, 1]) {
                new File(j.workspace, "fleet-${env.SHARD}-junit.xml").text = junit(shard.clusters)
                new File(j.workspace, "fleet-${env.SHARD}.md").text = "## preflight fleet\n"
                new File(j.workspace, "fleet-${env.SHARD}.prom").text = "preflight_ready{cluster=\"x\"} 1\n"
            }
            return exit
        }
    }
}
