package io.kubepreflight

import com.cloudbees.groovy.cps.NonCPS

import java.util.regex.Pattern

/**
 * Builds the text of `sh` scripts from trusted literals and untrusted values.
 *
 * Every value a user passes (a namespace, a file name, an extra argument) goes through
 * {@link #quote}, so it reaches the command as one word and is never parsed by the shell:
 * jenkins.io "Injection via interpolation" (doc/book/pipeline/jenkinsfile.adoc) shows what
 * happens otherwise. Secrets never go through here at all: scripts get them from environment
 * variables that withCredentials sets, which the script text only names.
 *
 * Not here: running anything. The methods are {@code @NonCPS}: pure computation that must not
 * be CPS-transformed (jenkins.io "Pipeline CPS method mismatches").
 */
class Shell implements Serializable {
    private static final long serialVersionUID = 1L

    // The characters CPython's shlex.quote leaves bare (Lib/shlex.py, `_find_unsafe`):
    // a word made only of these means the same quoted or not.
    private static final Pattern SAFE = Pattern.compile('^[A-Za-z0-9_@%+=:,./-]+$')

    /** One shell word for {@code value}: bare when safe, else single-quoted ('\'' for a quote). */
    @NonCPS
    static String quote(Object value) {
        if (value == null) {
            throw new IllegalArgumentException('cannot quote null')
        }
        String s = value.toString()
        if (s.indexOf('\u0000') >= 0) {
            // argv cannot carry NUL; the shell would cut the word there.
            throw new IllegalArgumentException('a NUL character cannot be passed to a command')
        }
        if (s.isEmpty()) {
            return "''"
        }
        if (SAFE.matcher(s).matches()) {
            return s
        }
        return "'" + s.replace("'", "'\"'\"'") + "'"
    }

    /** {@code words} quoted one by one and joined with spaces. */
    @NonCPS
    static String join(List words) {
        List<String> out = []
        for (Object w : words) {
            out.add(quote(w))
        }
        return out.join(' ')
    }

    /**
     * The script every step runs: remove stale outputs, run one command with stdout and stderr
     * captured to files, show stderr in the log, and exit with the command's own status.
     *
     * Jenkins runs an `sh` script without a #! line as `sh -xe script.sh` (durable-task
     * BourneShellScript.launchWithCookie; ShellStep help-script.html: "using the -xe flags").
     * Under -e a failing command would end the script before stderr is shown, so its status is
     * kept with `|| rc=$?` (a command on the left of || does not trigger -e, POSIX "set -e").
     * The step reads the status with `sh(returnStatus: true)` (DurableTaskStep
     * help-returnStatus.html) and decides the build result itself.
     *
     * Removing the old files first means a report left by an earlier build in the same
     * workspace is never mistaken for this run's.
     */
    @NonCPS
    static String captureScript(List command, String stdoutFile, String stderrFile, List<String> alsoRemove) {
        List<String> stale = [stdoutFile, stderrFile]
        stale.addAll(alsoRemove)
        return [
            'rm -f -- ' + join(stale),
            'rc=0',
            join(command) + ' >' + quote(stdoutFile) + ' 2>' + quote(stderrFile) + ' || rc=$?',
            'cat -- ' + quote(stderrFile) + ' >&2',
            'exit "$rc"',
        ].join('\n') + '\n'
    }
}
