package io.kubepreflight

import org.junit.jupiter.api.Test
import pipeline.Reports

import static org.junit.jupiter.api.Assertions.*

class PreflightReportTest {
    @Test
    void root_cause_is_the_summarys_failure_not_a_later_one() {
        PreflightReport r = PreflightReport.parse(Reports.json(Reports.BROKEN))
        assertEquals('controlplane.leases', r.rootCause().id)
    }

    @Test
    void a_duplicated_id_resolves_to_the_failing_finding() {
        List<Map> checks = [Reports.check('pki.admin.conf', 'pass', 'fine'), Reports.check('pki.admin.conf', 'fail', 'expired')]
        assertEquals('expired', PreflightReport.parse(Reports.json(checks)).rootCause().message)
    }

    @Test
    void log_lines_list_what_did_not_pass_then_the_verdict() {
        PreflightReport r = PreflightReport.parse(Reports.json(Reports.WARNED))
        assertEquals(['WARN  tls.serving-cert: expires in 20 days (fix: kubeadm certs renew apiserver)',
                      'READY: 3 pass, 1 warn (exit 0)'], r.logLines())
    }

    @Test
    void other_json_is_refused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException) { PreflightReport.parse('{"schema": "other/v9"}') }
        assertEquals('not a preflight/v1 report', e.message)
        assertTrue(assertThrows(IllegalArgumentException) { PreflightReport.parse('{oops') }.message.startsWith('not JSON'))
    }

    @Test
    void verdicts_and_parsed_reports_survive_java_serialization_as_a_pipeline_needs() {
        Verdict v = PreflightStep.judge(PreflightStep.configure([:]), 1, Reports.json(Reports.BROKEN), '')
        PreflightReport r = PreflightReport.parse(Reports.json(Reports.BROKEN))
        [v, r].each { Object o ->
            ByteArrayOutputStream bytes = new ByteArrayOutputStream()
            new ObjectOutputStream(bytes).writeObject(o)
            Object back = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray())).readObject()
            assertEquals(o.properties.findAll { it.key != 'class' }, back.properties.findAll { it.key != 'class' })
        }
    }
}
