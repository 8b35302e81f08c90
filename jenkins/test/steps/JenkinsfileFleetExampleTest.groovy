package steps

import org.junit.jupiter.api.Test
import pipeline.Declarative
import pipeline.FakeJenkins
import pipeline.FleetReports

import static org.junit.jupiter.api.Assertions.*
import static pipeline.FleetReports.cluster
import static pipeline.FleetReports.expiry

/**
 * ../Jenkinsfile.fleet.example compiles and runs as a nightly job: one `preflight fleet` per
 * shard, each on an agent of its own through `parallel`; the reports come back by stash, JUnit
 * and one merged calendar are published, and the result follows what the shards found.
 */
class JenkinsfileFleetExampleTest {
    static final String SECRET = 'kind: Config\nusers: [{name: fleet, user: {token: fleet-secret-5e77}}]\n'

    FakeJenkins j = Library.jenkins().secretFile('fleet-kubeconfig', SECRET)

    static final Map HEALTHY = [
        prod   : [exit: 0, clusters: [cluster('prod-eu'), cluster('prod-us')],
                  calendar: [expiry('apiserver', '2027-03-01T00:00:00Z', 'served', ['prod-eu']),
                             expiry('kubernetes-admin', '2027-01-10T00:00:00Z', 'kubeconfig', ['prod-eu', 'prod-us'])]],
        staging: [exit: 0, clusters: [cluster('staging-1')],
                  calendar: [expiry('deployer-token/ca.crt', '2027-02-01T00:00:00Z', 'secret', ['staging-1'])]],
        other  : [exit: 0, clusters: [cluster('dev')], calendar: []],
    ]

    Declarative run(Map shards) {
        j.shell = FleetReports.shell(j, shards)
        Declarative.install(j)
        Script jenkinsfile = j.load(new File(Library.dir().parentFile, 'Jenkinsfile.fleet.example'))
        Declarative seen = null
        j.binding.setVariable('pipeline', { Closure body ->
            seen = new Declarative(j)
            seen.apply(body, seen)
            seen.execute()
        })
        j.run { jenkinsfile.run() }
        assertNotNull(seen, 'the Jenkinsfile declared a pipeline')
        return seen
    }

    List<Map> fleetRuns() {
        return j.callsOf('sh').findAll { it.args.script.contains('preflight fleet ') }
    }

    @Test
    void every_shard_runs_on_an_agent_of_its_own_through_parallel_and_the_reports_are_published() {
        Declarative p = run(HEALTHY)
        assertEquals('SUCCESS', j.result, j.failure)
        assertEquals(['Check', 'Publish'], p.ran)
        assertEquals([['prod', 'staging', 'other']], j.callsOf('parallel')*.args)
        assertEquals(['preflight'] * 4, j.callsOf('node')*.args)   // three shards, then Publish
        List<Map> runs = fleetRuns()
        assertEquals([['prod', '^prod-'], ['staging', '^staging-'], ['other', '^(?!prod-|staging-)']],
                     runs.collect { [it.env.SHARD, it.env.CONTEXTS] })
        runs.each { assertNotNull(it.env.KUBECONFIG) }
        assertEquals(1, runs*.args*.script.unique().size(), 'one script text; the shard comes from the environment')
        assertTrue(runs[0].args.script.contains('preflight fleet --context "$CONTEXTS" '), runs[0].args.script)
        assertEquals([[testResults: 'fleet-*-junit.xml', allowEmptyResults: false]], j.callsOf('junit')*.args)
        assertEquals(['fleet-calendar.md', 'fleet-other-junit.xml'.replace('-junit.xml', '.json')].toSet() +
                     ['other', 'prod', 'staging'].collectMany { ["fleet-${it}.json", "fleet-${it}.md", "fleet-${it}.prom"]*.toString() },
                     j.archived*.name.toSet())
    }

    @Test
    void the_calendar_merges_every_shards_expiries_soonest_first() {
        run(HEALTHY)
        String calendar = j.archived.find { it.name == 'fleet-calendar.md' }.text
        List<String> rows = calendar.readLines().findAll { it.startsWith('| 2027') }
        assertEquals(['2027-01-10T00:00:00Z', '2027-02-01T00:00:00Z', '2027-03-01T00:00:00Z'], rows.collect { it.tokenize('|')[0].trim() })
        assertTrue(rows[0].contains('prod-eu, prod-us') && rows[0].contains('`kubernetes-admin`'), rows[0])
        assertTrue(rows[0].contains('renew kubernetes-admin \\| restart'), 'a | inside a cell is escaped')
    }

    @Test
    void something_expiring_within_the_warning_window_leaves_the_build_UNSTABLE() {
        Map shards = HEALTHY + [staging: [exit: 0, clusters: [cluster('staging-1')],
                                          calendar: [expiry('apiserver', '2026-12-20T00:00:00Z', 'served', ['staging-1'], true)]]]
        run(shards)
        assertEquals('UNSTABLE', j.result)
        assertEquals(['kube-preflight fleet: 1 certificate(s) or token(s) expire within 30d: see fleet-calendar.md'],
                     j.callsOf('unstable')*.args)
        assertTrue(j.archived.find { it.name == 'fleet-calendar.md' }.text.contains('| **2026-12-20T00:00:00Z** |'))
    }

    @Test
    void a_dead_cluster_fails_the_build_after_everything_is_published() {
        Map shards = HEALTHY + [prod: [exit: 1, clusters: [cluster('prod-eu'),
                                                           cluster('prod-dead', 1, 'api.reachable')]]]
        Declarative p = run(shards)
        assertEquals('FAILURE', j.result)
        assertEquals(['Check', 'Publish'], p.ran)
        assertEquals('kube-preflight fleet: 1 cluster(s) not ready: prod-dead: api.reachable', j.failure)
        assertEquals(1, j.callsOf('junit').size())
        assertTrue(j.archived*.name.contains('fleet-calendar.md'))
    }

    @Test
    void a_shard_where_preflight_could_not_run_fails_with_its_reason_and_the_others_are_still_published() {
        String why = "preflight: error: --context '^(?!prod-|staging-)' matches none of the 3 contexts in /tmp/kubeconfig"
        Map shards = HEALTHY + [other: [exit: 2, stderr: why + '\n']]
        run(shards)
        assertEquals('FAILURE', j.result)
        assertEquals("kube-preflight fleet could not run: other (exit 2): ${why}".toString(), j.failure)
        assertEquals(1, j.callsOf('junit').size())
        assertTrue(j.archived*.name.containsAll(['fleet-calendar.md', 'fleet-prod.md', 'fleet-staging.md']))
        assertFalse(j.archived*.name.contains('fleet-other.md'))
    }

    @Test
    void the_fleet_kubeconfig_never_appears_in_a_script_or_the_log() {
        run(HEALTHY)
        assertFalse(j.visibleTexts().any { it.contains('fleet-secret-5e77') })
    }
}
