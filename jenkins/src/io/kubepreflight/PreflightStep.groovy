package io.kubepreflight

import com.cloudbees.groovy.cps.NonCPS

/**
 * The pure half of the k8sPreflight step (vars/k8sPreflight.groovy): its parameters, the
 * `sh` script it runs, and the verdict drawn from `preflight check`'s exit code and reports.
 *
 * Exit codes are the CLI contract (DESIGN.md): 0 ready (warnings allowed), 1 not ready (a
 * check failed, or warned with --strict), 2 preflight could not run. Nothing else is
 * preflight's; any other status (127: not on PATH) is reported as the agent's problem.
 */
class PreflightStep implements Serializable {
    private static final long serialVersionUID = 1L

    static final String NAME = 'k8sPreflight'

    /** Every parameter and its default. vars/k8sPreflight.txt documents exactly these (tested). */
    static final Map DEFAULTS = Collections.unmodifiableMap([
        // Jenkins "Secret file" credential holding a kubeconfig, bound to KUBECONFIG for the
        // run. null: the agent's own KUBECONFIG, ~/.kube/config, or the pod's ServiceAccount.
        credentialsId  : null,
        command        : 'preflight',   // the CLI, one word: a name on PATH or a path
        context        : null,          // --context
        namespace      : null,          // -n; default: the context's, else "default"
        release        : null,          // --release: the Helm release about to be deployed
        manifests      : null,          // --manifests: rendered chart (helm template > FILE)
        chart          : null,          // --chart: a local chart folder or .tgz, rendered with the agent's helm
        values         : [],            // -f for each, with chart: values files, as for helm
        set            : [],            // --set for each, with chart: KEY=VALUE, as for helm (visible in ps)
        serviceAccount : null,          // --service-account NS/NAME
        ensureToken    : false,         // --ensure-token
        deep           : false,         // --deep
        createNamespace: false,         // --create-namespace
        strict         : false,         // --strict: warnings make it not ready
        timeout        : null,          // --timeout (CLI default 20s)
        helmTimeout    : null,          // --helm-timeout (CLI default 5m)
        warnWithin     : null,          // --warn-within (CLI default 30d)
        failWithin     : null,          // --fail-within (CLI default 7d)
        args           : [],            // more arguments for `preflight check`, each one word
        jsonFile       : 'preflight.json',
        junitFile      : 'preflight-junit.xml',
        markdownFile   : null,          // --markdown FILE, e.g. for a build description
        failOnNotReady : true,          // false: not ready marks the build UNSTABLE and returns
    ])

    // Parameters that become `--flag value`, in the order they appear in the script.
    private static final Map<String, String> VALUE_FLAGS = [
        context       : '--context',
        namespace     : '--namespace',
        release       : '--release',
        manifests     : '--manifests',
        chart         : '--chart',
        serviceAccount: '--service-account',
        timeout       : '--timeout',
        helmTimeout   : '--helm-timeout',
        warnWithin    : '--warn-within',
        failWithin    : '--fail-within',
    ]
    private static final Map<String, String> SWITCHES = [
        ensureToken    : '--ensure-token',
        deep           : '--deep',
        createNamespace: '--create-namespace',
        strict         : '--strict',
    ]

    @NonCPS
    static Map configure(Map user) {
        // chart with manifests, or values/set without chart: preflight itself refuses (exit 2, one line)
        return Options.merge(NAME, DEFAULTS, user, ['command', 'jsonFile', 'junitFile'])
    }

    /** Where the script puts preflight's stderr: beside the JSON report. */
    @NonCPS
    static String stderrFile(Map cfg) {
        return Options.stderrFile(cfg)
    }

    @NonCPS
    static List<String> command(Map cfg) {
        List<String> argv = [cfg.command.toString(), 'check']
        argv.addAll(Options.flagWords(cfg, VALUE_FLAGS, SWITCHES))
        for (String file : cfg.values as List<String>) {
            argv.addAll(['-f', file])
        }
        for (String item : cfg.set as List<String>) {
            argv.addAll(['--set', item])
        }
        argv.addAll(['--junit', cfg.junitFile.toString()])
        if (cfg.markdownFile) {
            argv.addAll(['--markdown', cfg.markdownFile.toString()])
        }
        argv.addAll(cfg.args as List<String>)
        argv.addAll(['-o', 'json'])   // last, so no extra argument can change the format we parse
        return argv
    }

    @NonCPS
    static String script(Map cfg) {
        List<String> outputs = [cfg.junitFile.toString()]
        if (cfg.markdownFile) {
            outputs.add(cfg.markdownFile.toString())
        }
        return Shell.captureScript(command(cfg), cfg.jsonFile.toString(), stderrFile(cfg), outputs)
    }

    /**
     * The verdict for one run. {@code json} is the report's text or null when there is none;
     * {@code stderr} is what preflight printed there (progress, or the one-line error of exit 2).
     */
    @NonCPS
    static Verdict judge(Map cfg, int exitCode, String json, String stderr) {
        Verdict v = new Verdict(value: [ready: false, exitCode: exitCode, rootCause: null, warnings: [], report: cfg.jsonFile])
        String said = lastLine(stderr)
        if (exitCode == 2) {
            v.result = Verdict.FAILURE
            v.message = "kube-preflight could not run (exit 2: unusable input or configuration)${said ? ': ' + said : ''}".toString()
            return v
        }
        if (exitCode != 0 && exitCode != 1) {
            String hint = exitCode == 127 ? ' (127: the command was not found; install kube-preflight on the agent or set command:)' :
                exitCode == 126 ? ' (126: the command is not executable)' : ''
            v.result = Verdict.FAILURE
            v.message = ("kube-preflight: '${cfg.command}' exited ${exitCode}, which is not a preflight exit code " +
                "(0 ready, 1 not ready, 2 could not run)${hint}${said ? ': ' + said : ''}").toString()
            return v
        }
        PreflightReport report
        try {
            if (json == null) {
                throw new IllegalArgumentException('the file is missing')
            }
            report = PreflightReport.parse(json)
        } catch (IllegalArgumentException e) {
            v.result = Verdict.FAILURE
            v.message = "kube-preflight: preflight exited ${exitCode} but its JSON report ${cfg.jsonFile} is unusable: ${e.message}".toString()
            return v
        }
        v.log = report.logLines()
        v.value.warnings = report.warnings().collect { PreflightReport.line(it) }
        if (exitCode == 0) {
            v.value.ready = true
            List<String> warnings = v.value.warnings as List<String>
            if (warnings) {
                v.result = Verdict.UNSTABLE
                v.message = "kube-preflight: ready, with ${warnings.size()} warning${warnings.size() > 1 ? 's' : ''}: ${warnings.join('; ')}".toString()
            } else {
                v.result = Verdict.SUCCESS
                v.message = 'kube-preflight: READY'
            }
            return v
        }
        Map root = report.rootCause()
        v.value.rootCause = root ? PreflightReport.line(root) : null
        v.result = cfg.failOnNotReady ? Verdict.FAILURE : Verdict.UNSTABLE
        v.message = "kube-preflight: NOT READY: root cause: ${v.value.rootCause ?: 'not named in the report'}".toString()
        return v
    }

    @NonCPS
    static String lastLine(String text) {
        List<String> lines = (text ?: '').readLines().collect { it.trim() }.findAll { it }
        return lines ? lines.last() : ''
    }
}
