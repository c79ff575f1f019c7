"""python -m deploy --replicas N --port 8501: the app for a class, behind HAProxy.

With --replicas 1 (no proxy) it is `streamlit run app.py --server.port PORT`, as today;
--proxy puts HAProxy in front of that one replica too (to compare 1 and N like for like).
Behind the proxy the replicas are forked from this process once it has imported torch,
Streamlit and the pages' modules, so they share those pages (deploy/forked.py);
VAE_DEPLOY_FORK=0 starts them as separate `python -m streamlit` processes instead.
Errors (HAProxy missing, a port taken, a bad limit) are one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from ui.lesson import ENV_LESSON, parse_lesson_text
from vae_core import ENV_MAX_TRAINING, ConfigError, max_training_runs

from .launcher import DeployError, Launcher, check_port_free, streamlit_cmd, REPO_ROOT


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.splitlines()[0])
    p.add_argument("--replicas", type=int, default=2,
                   help="Streamlit processes (about one per core); 1 = no proxy unless --proxy "
                        "(default 2)")
    p.add_argument("--port", type=int, default=8501,
                   help="public port; replicas use the next N ports on 127.0.0.1 (default 8501)")
    p.add_argument("--proxy", action="store_true",
                   help="HAProxy in front even of a single replica (the load test compares "
                        "1 and 2 replicas through it)")
    p.add_argument("--bind", default="0.0.0.0", help="public address (default all interfaces)")
    p.add_argument("--max-training", type=int, default=None,
                   help=f"concurrent training runs on this machine (${ENV_MAX_TRAINING}, "
                        "default 1)")
    p.add_argument("--lesson", default=None,
                   help="a lesson every session gets, whatever its URL says, e.g. "
                        "\"hide=train,upload&lock=model\" (hide: pages and upload; lock=model "
                        f"keeps the model, model=NAME picks it); sets ${ENV_LESSON}")
    p.add_argument("--run-dir", default=None,
                   help="logs and HAProxy config (default /tmp/latent-explorer-deploy-PORT)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.replicas < 1:
            raise DeployError(f"--replicas must be at least 1, not {args.replicas}")
        if not 1 <= args.port <= 65535 - args.replicas:
            raise DeployError(f"--port {args.port} leaves no room for {args.replicas} "
                              "replica ports above it")
        if args.max_training is not None:
            os.environ[ENV_MAX_TRAINING] = str(args.max_training)
        max_training_runs()  # a bad limit is refused now, not at the first training run
        if args.lesson is not None:
            lesson, problems = parse_lesson_text(args.lesson)
            if problems or not lesson:
                raise DeployError(f"--lesson {args.lesson!r}: "
                                  + ("; ".join(problems) or "it leaves nothing out"))
            os.environ[ENV_LESSON] = args.lesson  # the replicas inherit it
        if args.replicas == 1 and not args.proxy:  # as today: one server, nothing between
            check_port_free(args.port, args.bind)
            cmd = streamlit_cmd(args.port, args.bind)
            os.chdir(REPO_ROOT)
            os.execv(cmd[0], cmd)
        launcher = Launcher(args.replicas, args.port, args.bind, args.run_dir)
        signal.signal(signal.SIGINT, launcher.stop)
        signal.signal(signal.SIGTERM, launcher.stop)
        return launcher.run()
    except (DeployError, ConfigError) as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
