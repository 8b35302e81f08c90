"""admission.*: would the cluster admit, and then run, what this chart deploys?

Pure judges of the simulation's facts (``preflight/_facts/admission.py``); the collectors
(``preflight/_collect/admission.py``) did the dry-runs and reads. One module per check, in
report order, root causes first:

- ``admission.webhooks``   a fail-closed webhook that intercepts the chart's objects (or their
                           Pods) and whose service does not exist or has no ready endpoint;
                           a webhook whose sideEffects forbid dry-run: cannot simulate (warn)
- ``admission.ownership``  an existing object this release does not own (helm's checkOwnership)
- ``admission.dry-run``    the objects as helm sends them: validation, immutable fields, quota,
                           LimitRange, webhooks' refusals, server-side apply conflicts
- ``admission.pods``       the Pods the pod templates make: PodSecurity, pod quota, LimitRange
- ``admission.references`` pull secrets, StorageClasses, and the accounts, ConfigMaps, Secrets
                           and claims pods use, including a hook's that the chart creates too late
- ``admission.capacity``   is there a Ready node with room for the requests (a warning when
                           only the room is missing: the scheduler is the final judge)
"""
