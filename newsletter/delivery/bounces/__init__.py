"""After the sending: what a relay's reply or a bounce report says about an address
(`replies`, `reports`), and reading a mailbox of reports to take subscribers off the list
(`mailbox`)."""
