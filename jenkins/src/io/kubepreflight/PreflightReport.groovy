package io.kubepreflight

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonSlurperClassic

/**
 * Reads the `preflight check -o json` report (the `preflight/v1` contract in DESIGN.md:
 * {"schema", "checks": [{"id", "outcome", "message", "remediation", ...}], "summary":
 * {"exit_code", "ready", "root_cause", ...}}) and says what matters to a pipeline.
 *
 * JsonSlurperClassic, not JsonSlurper: its maps are plain HashMaps, which a pipeline can keep
 * across steps, while JsonSlurper's LazyMap cannot be serialized ("NotSerializableException:
 * groovy.json.internal.LazyMap" in many pipeline logs). The slurper itself is local to a
 * {@code @NonCPS} method, so it is never part of the pipeline's saved state either.
 * In a trusted (global) library this needs no script approval (jenkins.io shared-libraries
 * §"Global Shared Libraries": "These libraries are considered trusted").
 */
class PreflightReport implements Serializable {
    private static final long serialVersionUID = 1L

    static final String SCHEMA = 'preflight/v1'

    List<Map> checks
    Map summary

    @NonCPS
    static PreflightReport parse(String text) {
        Object doc
        try {
            doc = new JsonSlurperClassic().parseText(text)
        } catch (Exception e) {
            throw new IllegalArgumentException("not JSON (${e.message?.readLines()?.first()})".toString())
        }
        if (!(doc instanceof Map) || doc.schema != SCHEMA || !(doc.checks instanceof List) || !(doc.summary instanceof Map)) {
            throw new IllegalArgumentException("not a ${SCHEMA} report".toString())
        }
        return new PreflightReport(checks: doc.checks as List<Map>, summary: doc.summary as Map)
    }

    /**
     * The check to fix first: the summary's root_cause (the first failure, checks being ordered
     * root causes first), else, for a --strict run failed by warnings alone, the first warning.
     */
    @NonCPS
    Map rootCause() {
        String id = summary.root_cause
        Map found = id ? checks.find { it.id == id && it.outcome in ['fail', 'error'] } : null
        return found ?: checks.find { it.outcome == 'warn' }
    }

    @NonCPS
    List<Map> warnings() {
        return checks.findAll { it.outcome == 'warn' }
    }

    /** "id: message (fix: remediation)" on one line, the way the table's last line names it. */
    @NonCPS
    static String line(Map check) {
        String text = "${check.id}: ${oneLine(check.message)}"
        String fix = oneLine(check.remediation)
        return (fix ? "${text} (fix: ${fix})" : text).toString()
    }

    /** A short table for the build log: every check that did not pass, then the counts. */
    @NonCPS
    List<String> logLines() {
        List<String> out = []
        for (Map c : checks) {
            if (c.outcome != 'pass') {
                out.add(String.format('%-5s %s', c.outcome.toString().toUpperCase(), line(c)))
            }
        }
        List<String> counts = ['pass', 'warn', 'fail', 'skip', 'error'].findAll { summary[it] }.collect { "${summary[it]} ${it}".toString() }
        out.add("${summary.ready ? 'READY' : 'NOT READY'}: ${counts.join(', ')} (exit ${summary.exit_code})".toString())
        return out
    }

    @NonCPS
    private static String oneLine(Object text) {
        return text == null ? '' : text.toString().replaceAll(/\s*\n\s*/, ' ').trim()
    }
}
