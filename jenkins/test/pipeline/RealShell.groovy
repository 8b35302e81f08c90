package pipeline

import java.util.concurrent.TimeUnit

/**
 * A FakeJenkins shell that really runs each `sh` script, the way Jenkins does on a Unix agent:
 * the script is written to a file outside the workspace and run as `/bin/sh -xe FILE` in the
 * workspace (durable-task BourneShellScript: "'" + shell + "' -xe " when the script has no #!),
 * with the build's environment plus what withCredentials/withEnv set. Output goes to the log.
 */
class RealShell {
    static Closure<Integer> of(FakeJenkins j, List<Map> runs) {
        return { String script, Map env ->
            File file = File.createTempFile('script', '.sh', j.tmp)
            file.setText(script, 'UTF-8')
            ProcessBuilder pb = new ProcessBuilder('/bin/sh', '-xe', file.path).directory(j.workspace).redirectErrorStream(true)
            pb.environment().putAll(env)
            Process p = pb.start()
            p.outputStream.close()
            String output = p.inputStream.getText('UTF-8')   // until the script closes its output
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly()
                throw new IllegalStateException("script still running after its output closed: ${file}")
            }
            j.log.add(output)
            runs.add([script: script, exitCode: p.exitValue(), workspace: j.workspace.path, output: output,
                      kubeconfig: env.KUBECONFIG, kubeconfigExisted: env.KUBECONFIG ? new File(env.KUBECONFIG).isFile() : null])
            return p.exitValue()
        }
    }
}
