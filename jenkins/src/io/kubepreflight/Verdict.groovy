package io.kubepreflight

/**
 * What a step does after its command ran: the build result to set, the one-line message for
 * unstable()/error(), the lines to echo, and the map the step returns to the pipeline.
 *
 * Computed by pure code from the exit code and the files the command wrote, so the mapping is
 * tested without Jenkins; the step only carries it out. Serializable because it is held in a
 * CPS-transformed step across pipeline steps (jenkins.io shared-libraries §"Accessing steps").
 */
class Verdict implements Serializable {
    private static final long serialVersionUID = 1L

    static final String SUCCESS = 'SUCCESS'
    static final String UNSTABLE = 'UNSTABLE'
    static final String FAILURE = 'FAILURE'

    String result
    String message
    List<String> log = []
    Map value = [:]

    boolean isFailure() { result == FAILURE }

    boolean isUnstable() { result == UNSTABLE }
}
