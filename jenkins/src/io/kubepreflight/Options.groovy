package io.kubepreflight

import com.cloudbees.groovy.cps.NonCPS

/**
 * Merges a caller's parameter map over a step's defaults (the pattern of
 * jenkins-infra/pipeline-library vars/*.groovy: `defaultConfig << userConfig`) and checks it,
 * so a typo or a wrong type fails the step at once with one line instead of being ignored.
 *
 * A parameter's type is its default's: Boolean, List (of strings), or a string when the default
 * is a string or null. GStrings are accepted and turned into Strings here, so no GString (and no
 * lazily evaluated interpolation) travels further into a script.
 */
class Options implements Serializable {
    private static final long serialVersionUID = 1L

    @NonCPS
    static Map merge(String step, Map defaults, Map user, Collection<String> required = []) {
        Map out = new LinkedHashMap(defaults)
        List<String> unknown = []
        for (Map.Entry e : (user ?: [:]).entrySet()) {
            String key = e.key.toString()
            if (!defaults.containsKey(key)) {
                unknown.add(key)
                continue
            }
            out[key] = coerce(step, key, defaults[key], e.value)
        }
        if (unknown) {
            throw new IllegalArgumentException(
                "${step}: unknown parameter${unknown.size() > 1 ? 's' : ''} ${unknown.sort().join(', ')}; " +
                "the parameters are: ${defaults.keySet().join(', ')} (see the step's help)".toString())
        }
        for (String key : required) {
            if (out[key] == null || out[key].toString().isEmpty()) {
                throw new IllegalArgumentException("${step}: parameter ${key} is required".toString())
            }
        }
        return out
    }

    /** The command-line words for a step's flag tables: `--flag value` for each set value, `--switch` for each true one. */
    @NonCPS
    static List<String> flagWords(Map cfg, Map<String, String> valueFlags, Map<String, String> switches) {
        List<String> words = []
        for (Map.Entry<String, String> e : valueFlags.entrySet()) {
            if (cfg[e.key] != null) {
                words.addAll([e.value, cfg[e.key].toString()])
            }
        }
        for (Map.Entry<String, String> e : switches.entrySet()) {
            if (cfg[e.key]) {
                words.add(e.value)
            }
        }
        return words
    }

    /** Where a step's script puts the command's stderr: beside its JSON output. */
    @NonCPS
    static String stderrFile(Map cfg) {
        return cfg.jsonFile.toString().replaceFirst(/\.json$/, '') + '.stderr'
    }

    @NonCPS
    private static Object coerce(String step, String key, Object defaultValue, Object value) {
        if (value == null) {
            return defaultValue instanceof List ? [] : (defaultValue instanceof Boolean ? defaultValue : null)
        }
        if (defaultValue instanceof Boolean) {
            if (!(value instanceof Boolean)) {
                throw new IllegalArgumentException("${step}: ${key} must be true or false, not '${value}'".toString())
            }
            return value
        }
        if (defaultValue instanceof List) {
            if (!(value instanceof List) || ((List) value).any { !(it instanceof CharSequence) }) {
                throw new IllegalArgumentException("${step}: ${key} must be a list of strings".toString())
            }
            return ((List) value).collect { it.toString() }
        }
        if (!(value instanceof CharSequence)) {
            throw new IllegalArgumentException("${step}: ${key} must be a string, not ${value.getClass().simpleName}".toString())
        }
        return value.toString()
    }
}
