"""The emulator's HTTP routes, one module per endpoint family (contract sections in brackets).

* :mod:`~emulator.routes.auth`: anonymous tokens [2.1], claim tokens [2.3], credits [2.6].
* :mod:`~emulator.routes.sessions`: session creation [2.2] and state [2.7].
* :mod:`~emulator.routes.uploads`: multipart and URL uploads [2.5, 8].
* :mod:`~emulator.routes.run_sse`: the agent stream ``/run_sse`` [3] (wire format in
  :mod:`~emulator.routes.sse`).
* :mod:`~emulator.routes.renders`: render submit, status and cancel [5].
* :mod:`~emulator.routes.downloads`: media and render files, the render download [5].

Each family module has a ``ROUTES`` list that :func:`emulator.app.create_app` mounts. Shared
helpers: :mod:`~emulator.routes.envelopes` (answer shapes) and
:mod:`~emulator.routes.request_context` (state, auth, session, body).
"""
