#!/usr/bin/python3
"""The demo backend of spliced's built-in configuration: a small CherryPy application.

spliced starts it on the first request for /app/ (ProxyAutostart) and proxies to it:
    ProxyPass /app/ http://127.0.0.1:8000/
    ProxyPassReverse /app/ http://127.0.0.1:8000/
    ProxyAutostart http://127.0.0.1:8000 -- /usr/bin/python3 .../demo/app.py

Usage: app.py [--port N]   (default 8000; listens on 127.0.0.1 only)
Needs Debian's python3-cherrypy3, which loads in /usr/bin/python3.
"""
import os
import sys
import time

import cherrypy

STARTED = time.time()


class Sub:
    """A section of its own: CherryPy redirects /sub to /sub/ naming its own address
    (http://127.0.0.1:8000/sub/), which ProxyPassReverse turns into /app/sub/ on spliced."""

    @cherrypy.expose
    def index(self):
        cherrypy.response.headers["Content-Type"] = "text/plain; charset=utf-8"
        return "The sub-section of the demo backend.\n"


class Demo:
    sub = Sub()

    @cherrypy.expose
    def index(self):
        cherrypy.response.headers["Content-Type"] = "text/plain; charset=utf-8"
        uptime = time.time() - STARTED
        return ("Hello from the demo backend (CherryPy %s).\n"
                "spliced started this process (pid %d) when the first request found it "
                "down;\nit has been running for %.1f s.\n"
                % (cherrypy.__version__, os.getpid(), uptime))

    @cherrypy.expose
    def echo(self, **params):
        cherrypy.response.headers["Content-Type"] = "text/plain; charset=utf-8"
        lines = ["%s: %s" % (k, v) for k, v in sorted(cherrypy.request.headers.items())]
        lines += ["param %s=%s" % (k, v) for k, v in sorted(params.items())]
        return "\n".join(lines) + "\n"


def main():
    port = 8000
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--port" and args[1].isdigit():
        port = int(args[1])
    elif args:
        sys.stderr.write("usage: app.py [--port N]\n")
        return 2
    cherrypy.config.update({
        "server.socket_host": "127.0.0.1",
        "server.socket_port": port,
        "environment": "production",
        "log.screen": True,
        "engine.autoreload.on": False,
    })
    cherrypy.quickstart(Demo(), "/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
