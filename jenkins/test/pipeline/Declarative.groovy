package pipeline

/**
 * A small stand-in for Declarative Pipeline, enough for Jenkinsfile.example and
 * Jenkinsfile.fleet.example: `pipeline { agent, options, triggers, environment, stages { stage(name)
 * { agent { label }; steps; post } }, post }`.
 *
 * Run semantics copied from the Declarative syntax reference (jenkins.io
 * doc/book/pipeline/syntax): stages run in order; once one fails, later stages are skipped;
 * a stage's `post` runs after it, `always` first, then `success`, `unstable` or `failure` by
 * the result; `environment` values become environment variables of every step.
 * A stage's `agent { label 'x' }` runs its steps on a node with that label (a workspace of its
 * own). Anything else in the file (options, triggers, the top-level agent) is recorded and ignored.
 */
class Declarative {
    final FakeJenkins jenkins
    final List<Stage> stages = []
    final Map<String, Closure> post = [:]
    final List<String> ran = []
    final List<String> skipped = []
    Object agent

    Declarative(FakeJenkins jenkins) { this.jenkins = jenkins }

    static void install(FakeJenkins j) {
        j.binding.setVariable('pipeline', { Closure body ->
            Declarative p = new Declarative(j)
            p.apply(body, p)
            p.execute()
        })
    }

    static void apply(Closure body, Object delegate) {
        Closure c = body.rehydrate(delegate, body.owner, body.thisObject)
        c.resolveStrategy = Closure.DELEGATE_FIRST
        c.call()
    }

    // -- the directives ---------------------------------------------------------------------

    Object getAny() { 'any' }

    Object getNone() { 'none' }

    void triggers(Closure body) { apply(body, new Ignored()) }

    void agent(Object a) { agent = a }

    void options(Closure body) { apply(body, new Ignored()) }

    void environment(Closure body) {
        Map<String, Object> vars = [:]
        apply(body, vars)
        vars.each { k, v -> jenkins.env[k] = v.toString() }
    }

    void stages(Closure body) { apply(body, this) }

    void stage(String name, Closure body) {
        Stage s = new Stage(name: name)
        apply(body, s)
        stages.add(s)
    }

    void post(Closure body) { apply(body, new Conditions(post)) }

    // -- running it -------------------------------------------------------------------------

    void execute() {
        PipelineAbort failed = null
        for (Stage s : stages) {
            if (failed) {
                skipped.add(s.name)
                continue
            }
            ran.add(s.name)
            try {
                if (s.label) {
                    jenkins.binding.getVariable('node').call(s.label, s.steps)
                } else {
                    s.steps?.call()
                }
            } catch (PipelineAbort e) {
                failed = e
                jenkins.worsen('FAILURE')
            }
            runPost(s.post, failed != null)
        }
        runPost(post, failed != null)
        if (failed) {
            throw failed
        }
    }

    private void runPost(Map<String, Closure> conditions, boolean failed) {
        conditions.always?.call()
        String which = failed ? 'failure' : jenkins.result == 'UNSTABLE' ? 'unstable' : 'success'
        conditions[which]?.call()
    }
}

class Stage {
    String name
    String label   // agent { label 'x' }
    Closure steps
    Map<String, Closure> post = [:]

    void agent(Closure body) {
        AgentSpec spec = new AgentSpec()
        Declarative.apply(body, spec)
        label = spec.label
    }

    void steps(Closure body) { steps = body }

    void post(Closure body) { Declarative.apply(body, new Conditions(post)) }
}

class AgentSpec {
    String label

    void label(String l) { label = l }
}

class Conditions {
    final Map<String, Closure> into

    Conditions(Map<String, Closure> into) { this.into = into }

    void always(Closure c) { into.always = c }

    void success(Closure c) { into.success = c }

    void unstable(Closure c) { into.unstable = c }

    void failure(Closure c) { into.failure = c }
}

class Ignored {
    Object methodMissing(String name, Object args) { null }
}
