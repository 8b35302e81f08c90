package io.kubepreflight

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonSlurperClassic

/**
 * The pure half of the k8sServiceAccountToken step (vars/k8sServiceAccountToken.groovy):
 * parameters, the `sa-tokens ensure` script, and the verdict.
 *
 * sa-tokens exit codes (sa_tokens/_cli.py): 0 done, 1 the token could not be ensured (the
 * message says why), 2 usage or configuration error. There is no "unstable" outcome.
 *
 * Publishing to Jenkins: the jenkins* parameters pass through as sa-tokens' --jenkins-url,
 * --jenkins-credential, --jenkins-folder and --jenkins-kind. The Jenkins user and API token
 * come from a "Username with password" credential that the step binds to the environment
 * variables below, never to argv (DESIGN.md: secrets never reach a child's argv). The names
 * are the Jenkins CLI's own (JENKINS-53792: JENKINS_USER_ID, JENKINS_API_TOKEN), so sa-tokens
 * reads what Jenkins tooling already uses.
 */
class SaTokensStep implements Serializable {
    private static final long serialVersionUID = 1L

    static final String NAME = 'k8sServiceAccountToken'
    static final String USER_VARIABLE = 'JENKINS_USER_ID'
    static final String TOKEN_VARIABLE = 'JENKINS_API_TOKEN'

    /** Every parameter and its default. vars/k8sServiceAccountToken.txt documents exactly these (tested). */
    static final Map DEFAULTS = Collections.unmodifiableMap([
        serviceAccount          : null,    // required: the ServiceAccount's name
        namespace               : null,    // -n; default: the context's
        credentialsId           : null,    // kubeconfig "Secret file" credential, bound to KUBECONFIG
        command                 : 'sa-tokens',
        context                 : null,    // --context
        createServiceAccount    : false,   // --create-sa
        secretName              : null,    // --secret-name (default <serviceaccount>-token)
        wait                    : null,    // --wait (CLI default 60s)
        forceCreate             : false,   // --force-create (clusters before 1.24)
        kubeconfigOut           : null,    // --kubeconfig-out FILE (0600, in the workspace)
        tokenOut                : null,    // --token-out FILE (0600); '-' (stdout) is refused
        server                  : null,    // --server for kubeconfigOut
        certificateAuthority    : null,    // --certificate-authority FILE for kubeconfigOut
        jenkinsUrl              : null,    // --jenkins-url; default: env.JENKINS_URL when publishing
        jenkinsCredential       : null,    // --jenkins-credential: id of the credential to create/update
        jenkinsFolder           : null,    // --jenkins-folder: folder whose store gets it
        jenkinsKind             : null,    // --jenkins-kind: what to store (see sa-tokens ensure --help)
        jenkinsAuthCredentialsId: null,    // "Username with password" credential: Jenkins user + API token
        args                    : [],      // more arguments for `sa-tokens ensure`, each one word
        jsonFile                : 'sa-tokens.json',
    ])

    private static final Map<String, String> VALUE_FLAGS = [
        namespace           : '--namespace',
        context             : '--context',
        secretName          : '--secret-name',
        wait                : '--wait',
        kubeconfigOut       : '--kubeconfig-out',
        tokenOut            : '--token-out',
        server              : '--server',
        certificateAuthority: '--certificate-authority',
        jenkinsUrl          : '--jenkins-url',
        jenkinsCredential   : '--jenkins-credential',
        jenkinsFolder       : '--jenkins-folder',
        jenkinsKind         : '--jenkins-kind',
    ]
    private static final Map<String, String> SWITCHES = [
        createServiceAccount: '--create-sa',
        forceCreate         : '--force-create',
    ]
    private static final List<String> PUBLISHING = ['jenkinsCredential', 'jenkinsFolder', 'jenkinsKind']

    /**
     * {@code jenkinsUrlFromEnv} is env.JENKINS_URL, which Jenkins sets in every build; it is
     * used only when publishing and no jenkinsUrl was given.
     */
    @NonCPS
    static Map configure(Map user, String jenkinsUrlFromEnv = null) {
        Map cfg = Options.merge(NAME, DEFAULTS, user, ['serviceAccount', 'command', 'jsonFile'])
        if (cfg.tokenOut == '-') {
            throw new IllegalArgumentException("${NAME}: tokenOut '-' would print the token into the build log; give a file name".toString())
        }
        boolean publishing = PUBLISHING.any { cfg[it] != null }
        if (publishing && !cfg.jenkinsUrl) {
            cfg.jenkinsUrl = jenkinsUrlFromEnv ?: null
        }
        if (publishing && (!cfg.jenkinsUrl || !cfg.jenkinsAuthCredentialsId)) {
            throw new IllegalArgumentException(("${NAME}: publishing to Jenkins (${PUBLISHING.findAll { cfg[it] != null }.join(', ')}) " +
                'needs jenkinsUrl (or env.JENKINS_URL) and jenkinsAuthCredentialsId').toString())
        }
        if (!publishing && (cfg.jenkinsAuthCredentialsId || user?.jenkinsUrl)) {
            throw new IllegalArgumentException("${NAME}: jenkinsUrl and jenkinsAuthCredentialsId are used only with jenkinsCredential".toString())
        }
        return cfg
    }

    @NonCPS
    static String stderrFile(Map cfg) {
        return Options.stderrFile(cfg)
    }

    @NonCPS
    static List<String> command(Map cfg) {
        List<String> argv = [cfg.command.toString(), 'ensure']
        argv.addAll(Options.flagWords(cfg, VALUE_FLAGS, SWITCHES))
        argv.addAll(cfg.args as List<String>)
        // JSON last; `--` so the name is never read as an option, whatever it is.
        argv.addAll(['-o', 'json', '--', cfg.serviceAccount.toString()])
        return argv
    }

    @NonCPS
    static String script(Map cfg) {
        return Shell.captureScript(command(cfg), cfg.jsonFile.toString(), stderrFile(cfg), [])
    }

    @NonCPS
    static Verdict judge(Map cfg, int exitCode, String json, String stderr) {
        Verdict v = new Verdict(value: [exitCode: exitCode])
        String said = PreflightStep.lastLine(stderr)
        String who = "${cfg.namespace ? cfg.namespace + '/' : ''}${cfg.serviceAccount}"
        if (exitCode != 0) {
            String what = exitCode == 1 ? "could not ensure a token for ServiceAccount ${who}" :
                exitCode == 2 ? 'could not run (exit 2: unusable input or configuration)' :
                "'${cfg.command}' exited ${exitCode}, which is not an sa-tokens exit code (0, 1, 2)" +
                (exitCode == 127 ? ' (127: the command was not found; install kube-preflight on the agent or set command:)' : '')
            v.result = Verdict.FAILURE
            v.message = "${NAME}: ${what}${said ? ': ' + said : ''}".toString()
            return v
        }
        Map summary
        try {
            Object doc = json == null ? null : new JsonSlurperClassic().parseText(json)
            if (!(doc instanceof Map) || !doc.secret) {
                throw new IllegalArgumentException(json == null ? 'the file is missing' : 'no "secret" in it')
            }
            summary = doc as Map
        } catch (Exception e) {
            v.result = Verdict.FAILURE
            v.message = "${NAME}: sa-tokens exited 0 but its JSON result ${cfg.jsonFile} is unusable: ${e.message}".toString()
            return v
        }
        v.result = Verdict.SUCCESS
        v.value = [exitCode: 0, namespace: summary.namespace, serviceAccount: summary.service_account, secret: summary.secret,
                   created: summary.created, identity: summary.identity, result: summary]
        v.message = "${NAME}: token Secret ${summary.namespace}/${summary.secret} ${summary.created ? 'created' : 'reused'} and verified".toString()
        v.log = [v.message]
        return v
    }
}
