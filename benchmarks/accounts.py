"""Memory per open client: 1,000 clients from one account, and spread over many accounts.

    python benchmarks/accounts.py                 # 1,000 clients; --clients N --accounts N

Clients are opened through asyncpage's ClientPool. "one account": every client from the
caller's session. "N accounts": AccountSessions assumes a role in each of N accounts (moto's
STS, in a child process) and every client comes from its account's session, which shares
the caller's model loader and parser factory. Memory is the growth of this process's
resident set (``/proc/self/statm``) and of ``tracemalloc``'s count, divided by the clients,
after the first client of each service (which loads that service's model) is open.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import tracemalloc
from multiprocessing.connection import Connection
from typing import Any

import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from asyncpage._accounts import AccountSessions
from asyncpage._regions import ClientPool

SERVICES = ("sqs", "dynamodb", "ssm", "logs")
MiB = 1024 * 1024


def _moto(conn: Connection) -> None:
    from asyncpage.testing import MotoServer  # moto without its log line per request

    server = MotoServer().start()
    conn.send(server.endpoint_url)
    conn.recv()
    server.stop()


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def measure(endpoint: str, clients: int, accounts: int) -> dict[str, float]:
    session = AioSession()
    session.set_credentials("bench", "bench")
    config = AioConfig(retries={"mode": "standard"})
    sessions = AccountSessions(session, endpoint_url=endpoint, own_account="123456789012")
    ids = [f"{100000000000 + n:012d}" for n in range(accounts)] if accounts > 1 else [None]
    # Distinct (account, service, region) keys: each one client.
    per_account = -(-clients // len(ids))
    regions = [f"bench-{n}" for n in range(-(-per_account // len(SERVICES)))]
    keys = [
        (account, service, region) for account in ids for region in regions for service in SERVICES
    ][:clients]
    async with ClientPool(
        session=session, endpoint_url=endpoint, config=config, accounts=sessions
    ) as pool:
        for service in SERVICES:  # the models, loaded once
            await pool.client(service, "sa-east-1")
        if accounts > 1:
            await sessions.check(i for i in ids if i is not None)
        gc.collect()
        before, (traced_before, _) = rss(), tracemalloc.get_traced_memory()
        for account, service, region in keys:
            await pool.client(service, region, account=account)
        gc.collect()
        after, (traced_after, _) = rss(), tracemalloc.get_traced_memory()
        opened = pool.open_clients - len(SERVICES)
    return {
        "clients": opened,
        "rss_per_client_mib": (after - before) / opened / MiB,
        "traced_per_client_mib": (traced_after - traced_before) / opened / MiB,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--accounts", type=int, nargs="*", default=[1, 50, 250])
    args = parser.parse_args()
    here, there = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_moto, args=(there,), daemon=True)
    server.start()
    endpoint = here.recv()
    tracemalloc.start()
    print("| accounts | clients open | RSS per client | traced per client |")
    print("| ---: | ---: | ---: | ---: |")
    try:
        for accounts in args.accounts:
            result: Any = anyio.run(measure, endpoint, args.clients, accounts)
            print(
                f"| {accounts} | {result['clients']} | {result['rss_per_client_mib']:.3f} MiB"
                f" | {result['traced_per_client_mib']:.3f} MiB |"
            )
    finally:
        here.send("stop")
        server.join(10)


if __name__ == "__main__":
    main()
