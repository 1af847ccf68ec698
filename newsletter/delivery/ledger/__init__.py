"""The delivery ledger: one row per edition and subscriber. `rules` is the state machine,
`queries` reads and writes rows, `writer` records outcomes in batches from its own thread,
`sql` puts them together as the engine's `Ledger`."""
