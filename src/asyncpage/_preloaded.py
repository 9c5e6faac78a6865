"""Imported by the workers' forkserver after asyncpage (the last of ``_forkserver.PRELOAD``).

Everything the server has imported by then is never garbage: frozen out of the garbage
collector (``gc.freeze()``), so that neither its workers' full collections nor the server's
own exit walk it. The server's exit matters to a user: it holds the command's stdout and
stderr open until it ends, so a pipeline reading them waits for it (0.1 s of teardown
otherwise). Nothing else imports this module.
"""

import gc

gc.freeze()
