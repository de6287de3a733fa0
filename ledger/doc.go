// Package ledger will own the signed, append-only Merkle log of deals,
// bandwidth receipts, storage credits and penalties, its canonical entry
// encoding, checkpoints, and the folding of entries into balances. Storage
// goes through a small interface; package node provides the pebble one.
package ledger
