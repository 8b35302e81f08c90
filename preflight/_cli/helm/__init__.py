"""The Helm front door: ``helm preflight check|upgrade|install`` and the post-renderer gate.

    args         split a ``helm upgrade|install`` command line: what the gate needs, what helm gets
    env          Helm's context as a plugin receives it (HELM_* variables) -> ``preflight check`` options
    plugin       ``helm preflight ...``: the gate, then ``exec $HELM_BIN`` when it is ready
    postrender   ``--post-renderer``: manifests pass through unchanged only when the gate is ready
    cli          the ``preflight helm ...`` commands and the ``preflight-post-render`` script
    plugins/     the two Helm plugin folders (a legacy CLI plugin, a Helm 4 postrenderer/v1 plugin)

Every gate here is ``preflight check`` itself, run in-process through ``preflight._cli.main.main``,
so its checks, report and exit codes (0 ready, 1 not ready, 2 could not run) are the same as
the command's. What this package deliberately does not do: talk to a cluster on its own,
render charts, or change any argument it forwards to helm.
"""
