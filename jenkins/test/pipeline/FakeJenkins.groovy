package pipeline

import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.customizers.ImportCustomizer
import org.w3c.dom.Document

import javax.xml.parsers.DocumentBuilderFactory
import java.nio.file.Files
import java.nio.file.attribute.PosixFilePermissions

/** What Jenkins' `error` step and a failing step throw (hudson.AbortException in Jenkins). */
class PipelineAbort extends RuntimeException {
    PipelineAbort(String message) { super(message) }
}

/**
 * Just enough of Jenkins to run the library's steps and Jenkinsfile.example under plain Groovy:
 * the pipeline steps they use, as closures in the scripts' Binding (a Script calls a Closure
 * found in its binding as if it were a method), each recording its call.
 *
 * Each stub copies the behaviour the steps rely on, from the plugins' sources and help
 * (jenkins.io/doc/book/pipeline/shared-libraries/; credentials-binding-plugin impl/FileBinding/help.html;
 * junit-plugin JUnitResultsStepExecution.java; workflow-basic-steps-plugin CatchErrorStep/help.html):
 * - sh: a non-zero status fails the step ("script returned exit code N") unless returnStatus.
 *   The script runs through {@link #shell}: simulated in unit tests, /bin/sh -xe in cluster ones.
 * - withCredentials + file(): copies the secret to a temporary file outside the workspace, sets
 *   the variable to its path, deletes it after the block; usernamePassword(): two variables.
 *   An unknown id fails like credentials-binding ("Could not find credentials entry with ID").
 * - junit: no file -> "No test report files were found. Configuration error?" unless
 *   allowEmptyResults; any <failure>/<error> marks the build UNSTABLE.
 * - unstable: UNSTABLE. error: throws. The result only gets worse (catchError help).
 *
 * - node(label): runs the body in a workspace of its own (each agent has one), so files move
 *   between agents only through stash/unstash, as in Jenkins. parallel: runs every branch
 *   (one after another: the stubs are not thread-safe; the results are the same), and fails
 *   after all ran when one failed. script: runs its body. readJSON (Pipeline Utility Steps):
 *   parses a workspace file. archiveArtifacts: fails when nothing matches unless allowEmptyArchive.
 *
 * Not copied: masking of secrets in the log. The tests look for secrets in every recorded
 * script, message and log line instead, which is stricter.
 */
class FakeJenkins {
    static final List<String> RESULTS = ['SUCCESS', 'UNSTABLE', 'FAILURE']

    File workspace   // the current agent's; node() switches it
    File tmp   // the agent's temporary folder (Jenkins: <workspace>@tmp), for secret files
    final Map<String, Map> credentials = [:]
    final List<Map> calls = []
    final List<String> log = []
    final Map<String, String> env = [:]
    final Map<String, Map<String, byte[]>> stashes = [:]
    int nodes = 0
    final Binding binding = new Binding()
    String result = 'SUCCESS'
    String failure   // the message of the PipelineAbort that ended run(), if one did

    /** (script, environment) -> exit status. Default: every script succeeds. */
    Closure<Integer> shell = { String script, Map environment -> 0 }

    FakeJenkins(File workspace) {
        this.workspace = workspace
        this.tmp = new File(workspace.parentFile, workspace.name + '@tmp')
        workspace.mkdirs()
        tmp.mkdirs()
        installSteps()
    }

    // -- credentials ---------------------------------------------------------------------------

    /** {@code secrets}: the parts that must never be seen (default: the whole content). */
    FakeJenkins secretFile(String id, String content, List<String> secrets = [content]) {
        credentials[id] = [type: 'file', content: content, secrets: secrets]
        return this
    }

    FakeJenkins usernamePasswordCredential(String id, String username, String password) {
        credentials[id] = [type: 'usernamePassword', username: username, password: password]
        return this
    }

    /** Every secret value the stubbed credentials hold (a username is not secret). */
    List<String> secrets() {
        return credentials.values().collectMany { it.type == 'file' ? it.secrets : [it.password] } as List<String>
    }

    // -- loading scripts -----------------------------------------------------------------------

    Script load(File file) {
        CompilerConfiguration config = new CompilerConfiguration()
        // Jenkins imports @Library for Jenkinsfiles; do the same.
        // ... and @NonCPS (workflow-cps CpsGroovyShellFactory adds both imports).
        config.addCompilationCustomizers(new ImportCustomizer().addImports('org.jenkinsci.plugins.workflow.libs.Library',
                                                                           'com.cloudbees.groovy.cps.NonCPS'))
        return new GroovyShell(getClass().classLoader, binding, config).parse(file)
    }

    /** Make every vars/NAME.groovy callable as the step NAME, as a loaded library does. */
    FakeJenkins library(File libraryDir) {
        new File(libraryDir, 'vars').listFiles().findAll { it.name.endsWith('.groovy') }.each { File f ->
            Script step = load(f)
            binding.setVariable(f.name - '.groovy', { Object... args -> step.invokeMethod('call', args) })
        }
        return this
    }

    /** Run a pipeline body; a PipelineAbort ends it with FAILURE, as an uncaught error does. */
    Object run(Closure body) {
        try {
            return body()
        } catch (PipelineAbort e) {
            failure = e.message
            worsen('FAILURE')
            return null
        }
    }

    void worsen(String to) {
        if (RESULTS.indexOf(to) > RESULTS.indexOf(result)) {
            result = to
        }
    }

    List<Map> callsOf(String step) {
        return calls.findAll { it.step == step }
    }

    /** Every text a user or another process could see: scripts, messages, the log. */
    List<String> visibleTexts() {
        List<String> out = []
        calls.each { Map c -> out.add(c.args.toString()) }
        out.addAll(log)
        if (failure) {
            out.add(failure)
        }
        return out
    }

    // -- the steps -----------------------------------------------------------------------------

    private void record(String step, Object args) {
        calls.add([step: step, args: args, env: new LinkedHashMap(env)])
    }

    private File inWorkspace(Object path) {
        return new File(workspace, path.toString())
    }

    /** The workspace's top-level files a comma-separated list of glob patterns matches (or one plain path). */
    private List<File> matching(String patterns) {
        List<String> globs = patterns.split(',')*.trim()
        return (workspace.listFiles() ?: []).findAll { File f ->
            f.isFile() && globs.any { g -> java.nio.file.FileSystems.default.getPathMatcher("glob:${g}").matches(f.toPath().fileName) }
        }.sort { it.name }
    }

    private void installSteps() {
        binding.setVariable('env', env)
        binding.setVariable('currentBuild', new CurrentBuild(this))

        binding.setVariable('sh', { Object a ->
            Map args = a instanceof Map ? (Map) a : [script: a]
            record('sh', args)
            int status = shell.call(args.script, new LinkedHashMap(env)) as int
            if (status != 0 && !args.returnStatus) {
                throw new PipelineAbort("script returned exit code ${status}")
            }
            return args.returnStatus ? status : null
        })
        binding.setVariable('echo', { Object message ->
            record('echo', message)
            log.add(message.toString())
        })
        binding.setVariable('error', { Object message ->
            record('error', message)
            throw new PipelineAbort(message.toString())
        })
        binding.setVariable('unstable', { Object a ->
            String message = a instanceof Map ? a.message : a
            record('unstable', message)
            log.add(message)
            worsen('UNSTABLE')
        })
        binding.setVariable('junit', { Object a ->
            Map args = a instanceof Map ? (Map) a : [testResults: a]
            record('junit', args)
            List<File> reports = matching(args.testResults.toString())   // an Ant-style pattern, as junit takes
            if (!reports) {
                if (args.allowEmptyResults) {
                    return null
                }
                throw new PipelineAbort('No test report files were found. Configuration error?')
            }
            int failed = reports.sum { File report ->
                Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(report)
                doc.getElementsByTagName('failure').length + doc.getElementsByTagName('error').length
            } as int
            if (failed > 0) {
                worsen('UNSTABLE')
            }
            return [failCount: failed]
        })
        binding.setVariable('readFile', { Object a ->
            String path = a instanceof Map ? a.file : a
            record('readFile', path)
            File f = inWorkspace(path)
            if (!f.isFile()) {
                throw new PipelineAbort("java.nio.file.NoSuchFileException: ${f}")
            }
            return f.getText('UTF-8')
        })
        binding.setVariable('fileExists', { Object a ->
            String path = a instanceof Map ? a.file : a
            record('fileExists', path)
            return inWorkspace(path).exists()
        })
        binding.setVariable('writeFile', { Map args ->
            record('writeFile', args.file)
            inWorkspace(args.file).setText(args.text.toString(), 'UTF-8')
        })
        binding.setVariable('withEnv', { List<String> pairs, Closure body ->
            record('withEnv', pairs)
            Map<String, String> vars = pairs.collectEntries { String p -> p.split('=', 2) as List }
            return withVariables(vars, body)
        })
        binding.setVariable('timeout', { Map args, Closure body ->
            record('timeout', args)
            return body()
        })

        installAgentSteps()

        binding.setVariable('file', { Map args -> [kind: 'file'] + args })
        binding.setVariable('usernamePassword', { Map args -> [kind: 'usernamePassword'] + args })
        binding.setVariable('withCredentials', { List bindings, Closure body ->
            record('withCredentials', bindings)
            Map<String, String> vars = [:]
            List<File> files = []
            try {
                bindings.each { Map b ->
                    Map cred = credentials[b.credentialsId]
                    if (cred == null || cred.type != b.kind) {
                        throw new PipelineAbort("Could not find credentials entry with ID '${b.credentialsId}'")
                    }
                    if (b.kind == 'file') {
                        File dir = Files.createTempDirectory(tmp.toPath(), 'secretFiles').toFile()
                        File f = new File(dir, 'kubeconfig')
                        f.setText(cred.content, 'UTF-8')
                        Files.setPosixFilePermissions(f.toPath(), PosixFilePermissions.fromString('rw-------'))
                        files.add(dir)
                        vars[b.variable] = f.path
                    } else {
                        vars[b.usernameVariable] = cred.username
                        vars[b.passwordVariable] = cred.password
                    }
                }
                return withVariables(vars, body)
            } finally {
                files.each { it.deleteDir() }
            }
        })
    }

    private void installAgentSteps() {
        binding.setVariable('script', { Closure body -> body() })
        binding.setVariable('node', { Object label, Closure body ->
            record('node', label)
            File savedWs = workspace, savedTmp = tmp
            workspace = new File(savedWs.parentFile, "agent-${++nodes}-${label}/workspace")
            tmp = new File(workspace.parentFile, workspace.name + '@tmp')
            workspace.mkdirs()
            tmp.mkdirs()
            try {
                return body()
            } finally {
                workspace = savedWs
                tmp = savedTmp
            }
        })
        binding.setVariable('parallel', { Map branches ->
            record('parallel', branches.keySet() as List)
            List<PipelineAbort> failed = []
            branches.each { name, Closure body ->
                try {
                    body()
                } catch (PipelineAbort e) {
                    failed.add(e)
                }
            }
            if (failed) {
                throw failed[0]
            }
        })
        binding.setVariable('stash', { Map args ->
            record('stash', args)
            Map<String, byte[]> files = matching(args.includes.toString()).collectEntries { File f -> [f.name, f.bytes] }
            if (!files && !args.allowEmpty) {
                throw new PipelineAbort("No files included in stash ‘${args.name}’")
            }
            stashes[args.name.toString()] = files
        })
        binding.setVariable('unstash', { Object name ->
            record('unstash', name)
            Map<String, byte[]> files = stashes[name.toString()]
            if (files == null) {
                throw new PipelineAbort("No such saved stash ‘${name}’")
            }
            files.each { String fileName, byte[] data -> inWorkspace(fileName).bytes = data }
        })
        binding.setVariable('readJSON', { Map args ->
            record('readJSON', args.file)
            File f = inWorkspace(args.file)
            if (!f.isFile()) {
                throw new PipelineAbort("java.io.FileNotFoundException: ${f}")
            }
            return new groovy.json.JsonSlurperClassic().parseText(f.getText('UTF-8'))
        })
        binding.setVariable('archiveArtifacts', { Map args ->
            record('archiveArtifacts', args)
            List<File> matched = matching(args.artifacts.toString())
            if (!matched && !args.allowEmptyArchive) {
                throw new PipelineAbort("No artifacts found that match the file pattern \"${args.artifacts}\". Configuration error?")
            }
            archived.addAll(matched)
        })
    }

    final List<File> archived = []

    private Object withVariables(Map<String, String> vars, Closure body) {
        Map<String, String> saved = new LinkedHashMap(env)
        env.putAll(vars)
        try {
            return body()
        } finally {
            env.clear()
            env.putAll(saved)
        }
    }
}

/** currentBuild: reading and (worsening-only) writing the result, as RunWrapper does. */
class CurrentBuild {
    private final FakeJenkins jenkins

    CurrentBuild(FakeJenkins jenkins) { this.jenkins = jenkins }

    String getResult() { jenkins.result }

    void setResult(String result) { jenkins.worsen(result) }
}
