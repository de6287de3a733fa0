package shardstore

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/dsn-project/dsn"
)

// recover brings the files and the index back into agreement after a crash
// (or any unclean stop), before the store serves anything:
//
//  1. every temp file is deleted: no receive is in flight at Open, and a
//     temp file is never acknowledged;
//  2. every index entry whose file is missing or has the wrong size is
//     dropped and logged as lost (acknowledged shards are synced before
//     their entry is written, so this means outside damage);
//  3. every shard file without an index entry is deleted: it belongs to a
//     receive that crashed before its commit or a removal that crashed
//     after its commit, and was never (or is no longer) acknowledged.
//     Unless the index is new (reindex): then the files are all that is
//     left of the shards, and each one that still hashes to the ID its
//     name gives is indexed again rather than deleted;
//  4. the sidecars of shards no longer held are deleted;
//  5. the usage record is recomputed from the surviving entries and their
//     sidecars, and rewritten if it differs.
//
// Each step is idempotent, so a crash during recovery is repaired by the
// next Open (Open keeps a re-index going until one finishes: see
// reindexMarker). Cost: one stat per shard and one index lookup per file;
// shard contents are not re-hashed here, except when re-indexing.
func (s *Store) recover(reindex bool) error {
	if err := s.clearTmp(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := s.checkEntries(b); err != nil {
		return err
	}
	if !b.Empty() {
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("commit repairs: %w", err)
		}
	}
	if err := s.removeOrphans(reindex); err != nil {
		return err
	}
	if err := s.removeOrphanSidecars(); err != nil {
		return err
	}
	u, sizes, err := s.computeUsage()
	if err != nil {
		return err
	}
	stored, err := s.readUsage()
	if err != nil {
		s.log.Warn("usage record unreadable, recomputing", "err", err)
	}
	if err != nil || stored != u {
		switch {
		case err != nil || stored == (usageRecord{}):
		case stored.Shards == u.Shards && stored.Used == sizes:
			// Written before shards were charged their blocks and
			// overhead (charge.go): the same shards, counted anew.
			s.log.Info("usage recounted with each shard's on-disk charge", "shards", u.Shards,
				"bytes", sizes, "used", u.Used)
		default:
			s.log.Warn("usage record corrected", "stored_shards", stored.Shards, "stored_used", stored.Used,
				"shards", u.Shards, "used", u.Used)
		}
		if err := s.db.Set(usageKey, u.encode(), pebble.Sync); err != nil {
			return fmt.Errorf("write usage record: %w", err)
		}
	}
	s.usage = u
	return nil
}

// computeUsage sums the charges of the indexed shards (with their
// sidecars) into a usage record; sizes is the sum of their plain sizes.
func (s *Store) computeUsage() (u usageRecord, sizes int64, err error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: shardKeyLower, UpperBound: shardKeyUpper})
	if err != nil {
		return u, 0, fmt.Errorf("scan index: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		id, err := parseShardKey(it.Key())
		if err != nil {
			return u, 0, err // checkEntries dropped malformed keys
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return u, 0, fmt.Errorf("read index entry %s: %w", id, err)
		}
		e, err := decodeIndexEntry(v)
		if err != nil {
			return u, 0, fmt.Errorf("shard %s: %w", id, err)
		}
		sc, err := s.sidecarBytes(id, "")
		if err != nil {
			return u, 0, err
		}
		u.Shards++
		u.Used += shardCharge(e.Size, sc.total)
		sizes += e.Size
	}
	if err := it.Error(); err != nil {
		return u, 0, fmt.Errorf("scan index: %w", err)
	}
	return u, sizes, nil
}

// removeOrphanSidecars deletes the sidecars of shards that have no index
// entry: entries dropped above as lost. RemoveShard deletes a shard's
// sidecars in the batch that deletes its entry, so nothing else leaves
// them behind.
func (s *Store) removeOrphanSidecars() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{sidecarKeyPrefix}, UpperBound: []byte{sidecarKeyPrefix + 1}})
	if err != nil {
		return fmt.Errorf("scan sidecars: %w", err)
	}
	var orphans [][]byte
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < 1+dsn.ShardIDSize {
			orphans = append(orphans, append([]byte(nil), k...))
			ok = it.Next()
			continue
		}
		id := dsn.ShardID(k[1 : 1+dsn.ShardIDSize])
		p := sidecarPrefix(id)
		if _, err := s.getEntry(id); errors.Is(err, dsn.ErrShardNotFound) {
			orphans = append(orphans, p)
		}
		// Skip the rest of this shard's sidecars.
		ok = it.SeekGE(prefixEnd(p))
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("scan sidecars: %w", err)
	}
	if len(orphans) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, p := range orphans {
		if len(p) < 1+dsn.ShardIDSize {
			b.Delete(p, nil) // a malformed key: nothing could ever read it
			continue
		}
		b.DeleteRange(p, prefixEnd(p), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("remove orphan sidecars: %w", err)
	}
	s.log.Info("removed sidecars of shards no longer held", "shards", len(orphans))
	return nil
}

func (s *Store) clearTmp() error {
	names, err := s.fs.List(s.tmpDir)
	if err != nil {
		return fmt.Errorf("list %s: %w", s.tmpDir, err)
	}
	for _, name := range names {
		p := s.fs.PathJoin(s.tmpDir, name)
		if err := s.fs.RemoveAll(p); err != nil {
			return fmt.Errorf("remove temp file %s: %w", p, err)
		}
	}
	if len(names) > 0 {
		s.log.Info("removed unfinished receives", "count", len(names))
	}
	return nil
}

// checkEntries drops (into b) the entries whose file is missing or wrong.
func (s *Store) checkEntries(b *pebble.Batch) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: shardKeyLower, UpperBound: shardKeyUpper})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		key := it.Key()
		id, err := parseShardKey(key)
		if err != nil {
			s.log.Warn("dropping malformed index key", "err", err)
			b.Delete(key, nil)
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("read index entry %s: %w", id, err)
		}
		e, err := decodeIndexEntry(v)
		if err != nil {
			// Damage to the index alone must not cost a good shard: the
			// file names its own hash, so it can vouch for itself.
			rebuilt, rerr := s.entryFromFile(id)
			if rerr != nil {
				s.log.Warn("dropping undecodable index entry; shard lost", "shard", id.String(), "err", err, "file", rerr)
				b.Delete(key, nil)
				continue
			}
			s.log.Warn("rebuilt undecodable index entry from its verified file", "shard", id.String(), "err", err)
			b.Set(key, rebuilt.encode(), nil)
			e = rebuilt
		}
		fi, err := s.fs.Stat(s.shardPath(id))
		switch {
		case isNotExist(err):
			s.log.Warn("dropping index entry of missing file; shard lost", "shard", id.String(), "size", e.Size)
			b.Delete(key, nil)
			continue
		case err != nil:
			return fmt.Errorf("stat shard %s: %w", id, err)
		case fi.IsDir() || fi.Size() != e.Size:
			s.log.Warn("dropping index entry of damaged file; shard lost", "shard", id.String(),
				"size", e.Size, "file_size", fi.Size(), "dir", fi.IsDir())
			b.Delete(key, nil)
			continue
		}
	}
	return it.Error()
}

// entryFromFile rebuilds the index entry of shard id from its file, if the
// file's bytes hash to id.
func (s *Store) entryFromFile(id dsn.ShardID) (indexEntry, error) {
	f, err := s.fs.Open(s.shardPath(id))
	if err != nil {
		return indexEntry{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return indexEntry{}, err
	}
	if fi.IsDir() {
		return indexEntry{}, fmt.Errorf("a directory, not a file: %w", dsn.ErrCorruptShard)
	}
	if fi.Size() > dsn.MaxShardSize {
		return indexEntry{}, fmt.Errorf("%d bytes, above the limit of %d: %w", fi.Size(), int64(dsn.MaxShardSize), dsn.ErrShardSize)
	}
	if _, err := io.Copy(io.Discard, dsn.VerifyReader(id, fi.Size(), f)); err != nil {
		return indexEntry{}, err
	}
	return indexEntry{Size: fi.Size(), Received: fi.ModTime().Truncate(time.Second)}, nil
}

func (s *Store) readUsage() (usageRecord, error) {
	v, closer, err := s.db.Get(usageKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return usageRecord{}, nil
	}
	if err != nil {
		return usageRecord{}, err
	}
	defer closer.Close()
	return decodeUsage(v)
}

// reindexBatch is how many re-indexed entries go into one synced commit.
const reindexBatch = 256

// removeOrphans deletes everything under shards/ that is not the file of
// an indexed shard in its right fan-out directory. The committed index is
// the truth: the files of dropped entries (wrong size) go too. With
// reindex, the index is not the truth (it is new, or a re-index was
// interrupted): a file without an entry is indexed again if it verifies,
// and deleted as corrupt if it does not.
func (s *Store) removeOrphans(reindex bool) error {
	fanout, err := s.fs.List(s.shardsDir)
	if err != nil {
		return fmt.Errorf("list %s: %w", s.shardsDir, err)
	}
	orphans, reindexed, discarded := 0, 0, 0
	batch := s.db.NewBatch()
	defer func() { batch.Close() }()
	flush := func() error {
		if batch.Empty() {
			return nil
		}
		if err := batch.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("commit re-indexed shards: %w", err)
		}
		batch.Close()
		batch = s.db.NewBatch()
		return nil
	}
	for _, sub := range fanout {
		subPath := s.fs.PathJoin(s.shardsDir, sub)
		if !isFanoutName(sub) {
			s.log.Warn("removing stray entry in shard directory", "path", subPath)
			if err := s.fs.RemoveAll(subPath); err != nil {
				return fmt.Errorf("remove %s: %w", subPath, err)
			}
			continue
		}
		names, err := s.fs.List(subPath)
		if err != nil {
			return fmt.Errorf("list %s: %w", subPath, err)
		}
		for _, name := range names {
			p := s.fs.PathJoin(subPath, name)
			id, err := dsn.ParseShardID(name)
			if err != nil || name != id.String() || name[:2] != sub {
				s.log.Warn("removing stray file in shard directory", "path", p)
				if err := s.fs.RemoveAll(p); err != nil {
					return fmt.Errorf("remove %s: %w", p, err)
				}
				continue
			}
			if _, err := s.getEntry(id); err == nil {
				continue
			} else if !errors.Is(err, dsn.ErrShardNotFound) {
				// Kept: an undecodable entry was dropped above, so this
				// cannot happen for entries; be conservative anyway.
				return fmt.Errorf("shard %s: %w", id, err)
			}
			if reindex {
				e, err := s.entryFromFile(id)
				switch {
				case err == nil:
					batch.Set(shardKey(id), e.encode(), nil)
					reindexed++
					if batch.Count() >= reindexBatch {
						if err := flush(); err != nil {
							return err
						}
					}
					continue
				case errors.Is(err, dsn.ErrCorruptShard) || errors.Is(err, dsn.ErrShardSize):
					// Bytes that do not hash to the name cannot be served
					// as that shard, nor as any other.
					s.log.Warn("removing shard file that does not match its name", "path", p, "err", err)
					if err := s.fs.RemoveAll(p); err != nil {
						return fmt.Errorf("remove corrupt shard %s: %w", p, err)
					}
					discarded++
					continue
				default:
					// An I/O error says nothing about the shard: keep it,
					// and fail the open so the operator sees why.
					return fmt.Errorf("re-index shard %s: %w", p, err)
				}
			}
			if err := s.fs.Remove(p); err != nil {
				return fmt.Errorf("remove unacknowledged shard %s: %w", p, err)
			}
			orphans++
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if orphans > 0 {
		s.log.Info("removed unacknowledged shard files", "count", orphans)
	}
	if reindex && reindexed+discarded > 0 {
		s.log.Warn("index rebuilt from the shard files; their sidecars (outboards, tags) are gone",
			"reindexed", reindexed, "removed_corrupt", discarded)
	}
	// The fan-out directories are part of the layout; recreate any a crash
	// or a person removed.
	return s.makeDirs()
}

func isFanoutName(s string) bool {
	const hexdigits = "0123456789abcdef"
	return len(s) == 2 && indexByte(hexdigits, s[0]) && indexByte(hexdigits, s[1])
}

func indexByte(s string, c byte) bool {
	for i := range len(s) {
		if s[i] == c {
			return true
		}
	}
	return false
}
