package steps

import io.kubepreflight.PreflightStep
import io.kubepreflight.SaTokensStep
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

import static org.junit.jupiter.api.Assertions.*

/**
 * vars/STEP.txt is the step's help in Jenkins' snippet generator and global-variable reference
 * (jenkins.io shared-libraries §"Directory structure"). It must list exactly the parameters the
 * step accepts, in the same order, with the same defaults (STYLE.md 9: "a vars/<step>.txt help
 * kept in sync by a test").
 */
class HelpTextTest {
    static final Map<String, Map> STEPS = [k8sPreflight: PreflightStep.DEFAULTS, k8sServiceAccountToken: SaTokensStep.DEFAULTS]
    static final Map<String, String> LOGIC = [k8sPreflight: 'PreflightStep', k8sServiceAccountToken: 'SaTokensStep']

    /** name -> default as the help writes it, from each <dt>; a <dt> of another shape fails. */
    static Map<String, String> documented(String step) {
        String html = new File(Library.dir(), "vars/${step}.txt").text
        Map<String, String> out = [:]
        (html =~ /(?s)<dt>(.*?)<\/dt>/).each { List m ->
            def entry = m[1] =~ /^<code>(\w+)<\/code> \(default: (none|<code>(.*)<\/code>)\)$/
            assertTrue(entry.matches(), "${step}.txt: a <dt> must read '<code>name</code> (default: ...)': ${m[1]}")
            assertFalse(out.containsKey(entry.group(1)), "${step}.txt documents ${entry.group(1)} twice")
            out[entry.group(1)] = entry.group(3) ?: 'none'
        }
        return out
    }

    static String written(Object value) {
        return value == null ? 'none' : value instanceof String ? "'${value}'" : value.toString()
    }

    @ParameterizedTest
    @ValueSource(strings = ['k8sPreflight', 'k8sServiceAccountToken'])
    void help_lists_exactly_the_accepted_parameters_with_their_defaults(String step) {
        Map<String, String> expected = STEPS[step].collectEntries { k, v -> [k, written(v)] }
        assertEquals(expected, documented(step))
        assertEquals(expected.keySet() as List, documented(step).keySet() as List, 'same order as the defaults map')
    }

    /** The step's own files read no parameter that is not declared (a typo would read null). */
    @ParameterizedTest
    @ValueSource(strings = ['k8sPreflight', 'k8sServiceAccountToken'])
    void the_step_reads_only_declared_parameters(String step) {
        String code = new File(Library.dir(), "vars/${step}.groovy").text +
            new File(Library.dir(), "src/io/kubepreflight/${LOGIC[step]}.groovy").text
        Set<String> read = (code =~ /\bcfg\.(\w+)/).collect { it[1] } as Set
        read.removeAll(['toString'])
        assertTrue(read.size() > 3, "found ${read}")
        assertEquals([] as Set, read - STEPS[step].keySet())
    }

    /** And the step really accepts each documented name, and nothing else. */
    @ParameterizedTest
    @ValueSource(strings = ['k8sPreflight', 'k8sServiceAccountToken'])
    void every_documented_parameter_is_accepted_and_an_undocumented_one_is_not(String step) {
        Closure<Map> configure = step == 'k8sPreflight' ? { Map m -> PreflightStep.configure(m) } :
            { Map m -> SaTokensStep.configure([serviceAccount: 'sa', jenkinsCredential: 'c', jenkinsAuthCredentialsId: 'a'] + m, 'https://j/') }
        documented(step).each { String name, String dflt ->
            Object value = dflt in ['true', 'false'] ? true : dflt == '[]' ? ['x'] : 'x'
            assertEquals(value, configure([(name): value])[name], name)
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException) { configure([undocumented: 'x']) }
        assertTrue(e.message.contains('unknown parameter undocumented'), e.message)
    }
}
