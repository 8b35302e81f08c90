package io.kubepreflight

import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

import java.util.concurrent.TimeUnit

import static org.junit.jupiter.api.Assertions.*

class ShellTest {
    @Test
    void quotes_like_shlex() {
        // value -> the word CPython's shlex.quote makes of it
        Map<String, String> table = [
            'shop'                                            : 'shop',
            'ci/jenkins'                                      : 'ci/jenkins',
            'https://jenkins.example.com:8443/a_b@c%d+e=f,g'  : 'https://jenkins.example.com:8443/a_b@c%d+e=f,g',
            'a b'                                             : "'a b'",
            "it's"                                            : "'it'\"'\"'s'",
            '$HOME'                                           : "'\$HOME'",
            '*'                                               : "'*'",
        ]
        table.each { value, quoted -> assertEquals(quoted, Shell.quote(value), value) }
    }

    @Test
    void empty_is_an_empty_word_and_null_or_nul_is_refused() {
        assertEquals("''", Shell.quote(''))
        assertThrows(IllegalArgumentException) { Shell.quote(null) }
        assertThrows(IllegalArgumentException) { Shell.quote('a\u0000b') }
    }

    /** The real /bin/sh gets back exactly the words we meant, however hostile. */
    @Test
    void hostile_words_survive_the_real_shell_unchanged() {
        List<String> words = ["a'b", 'a"b', '$(touch /tmp/kp-pwned)', '`id`', 'x; exit 3', 'line1\nline2', '-n', '', ' lead',
                              'back\\slash', '!hist', '~', 'ü€', "''", "'\"'\"'"]
        String script = 'printf "%s\\0" ' + Shell.join(words)
        Process p = new ProcessBuilder('/bin/sh', '-xe', '-c', script).start()
        byte[] out = p.inputStream.bytes
        assertTrue(p.waitFor(30, TimeUnit.SECONDS))
        assertEquals(0, p.exitValue(), p.errorStream.text)
        List<String> back = new String(out, 'UTF-8').split('\u0000', -1).toList()
        assertEquals(words + [''], back)
    }

    @Test
    void the_capture_script_keeps_the_commands_status_under_sh_minus_e(@TempDir File base) {
        for (int status : [0, 1, 2, 7]) {
            File dir = new File(base, "exit-${status}")
            assertTrue(dir.mkdir())
            new File(dir, 'old.xml').text = 'stale'
            String script = Shell.captureScript(['sh', '-c', "echo out; echo err >&2; exit ${status}"], 'o.txt', 'e.txt', ['old.xml'])
            Process p = new ProcessBuilder('/bin/sh', '-xe', '-c', script).directory(dir).start()
            String err = p.errorStream.text
            assertTrue(p.waitFor(30, TimeUnit.SECONDS))
            assertEquals(status, p.exitValue())
            assertEquals('out\n', new File(dir, 'o.txt').text)
            assertEquals('err\n', new File(dir, 'e.txt').text)
            assertTrue(err.contains('err\n'), 'stderr is shown in the log too')
            assertFalse(new File(dir, 'old.xml').exists(), 'stale outputs are removed first')
        }
    }
}
