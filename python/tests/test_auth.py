"""A gateway started with --auth: the client's bearer token, and UNAUTHENTICATED without one."""

from __future__ import annotations

import os
import unittest

import strata

from .support import gateway_url, global_index, make_dataset


class AuthTest(unittest.TestCase):
    def test_token_is_sent_and_its_absence_refused(self) -> None:
        token = os.environ["STRATA_TOKEN"]
        client = strata.Client(gateway_url(), token=token)
        _, name, info = make_dataset(client, 12, partitions=2)
        ds = strata.Dataset(gateway_url(), name, token=token, rank=0, world_size=1)
        self.assertEqual(sorted(global_index(info, s) for s in ds), list(range(12)))
        for anonymous in (lambda: strata.Client(gateway_url()).streams(), lambda: strata.Dataset(gateway_url(), name)):
            with self.assertRaises(strata.StrataError) as caught:
                anonymous()
            self.assertEqual((caught.exception.code, caught.exception.status), ("UNAUTHENTICATED", 401))


if __name__ == "__main__":
    unittest.main()
