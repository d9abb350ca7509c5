package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// viewCounter aggregates article views in memory and adds them to the database in
// batches, so that reading an article is not a write. Increments are additive, so any
// number of replicas may flush into the same table; a failed flush keeps its counts for
// the next one, and Close flushes what is left.
type viewCounter struct {
	mu      sync.Mutex
	pending map[int64]int64
	// inflight holds the views of the running flush until their chunk commits: reads on
	// the embedded database's read pool run beside the flush, and must find each view
	// in one place or the other.
	inflight map[int64]int64
	flushing chan struct{} // holds a token while a flush runs: one flush at a time
	stop     chan struct{}
	done     chan struct{}
}

// DefaultViewFlushInterval is how often counted views reach the database.
const DefaultViewFlushInterval = time.Second

func newViewCounter() *viewCounter {
	return &viewCounter{pending: map[int64]int64{}, inflight: map[int64]int64{}, flushing: make(chan struct{}, 1)}
}

// add counts one view and returns how many views of the article wait to be flushed.
func (v *viewCounter) add(id int64) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pending[id]++
	return v.pending[id]
}

// waiting returns the views of an article not yet flushed.
func (v *viewCounter) waiting(id int64) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.pending[id] + v.inflight[id]
}

// take moves the pending views to inflight and returns them.
func (v *viewCounter) take() map[int64]int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.pending) == 0 {
		return nil
	}
	out := v.pending
	v.pending = make(map[int64]int64, len(out))
	for id, n := range out {
		v.inflight[id] = n
	}
	return out
}

// saved drops from inflight the views of articles whose chunk committed.
func (v *viewCounter) saved(ids []int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, id := range ids {
		delete(v.inflight, id)
	}
}

// giveBack moves views that a flush could not save back to pending.
func (v *viewCounter) giveBack(batch map[int64]int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, n := range batch {
		delete(v.inflight, id)
		v.pending[id] += n
	}
}

// purgeEvery is how often expired idempotency keys are deleted.
const purgeEvery = 10 * time.Minute

// startFlusher flushes the views every interval and purges expired idempotency keys
// every purgeEvery, until Close; beside it, for a store that serves, keepSearch keeps
// the search vocabulary and heads and keepRanking the popular ranking (the commands and
// tests that load data rebuild them with Analyze, RefreshVocabulary or RefreshPopular).
func (s *Store) startFlusher(interval time.Duration, serving bool) {
	s.views.stop = make(chan struct{})
	s.views.done = make(chan struct{})
	s.searchKept = make(chan struct{})
	s.rankingKept = make(chan struct{})
	if serving {
		go s.keepSearch()
		go s.keepRanking()
	} else {
		close(s.searchKept)
		close(s.rankingKept)
	}
	go func() {
		defer close(s.views.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		purge := time.NewTicker(purgeEvery)
		defer purge.Stop()
		for {
			select {
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := s.FlushViews(ctx); err != nil {
					s.log.Warn("flushing article views failed; will retry", "err", err)
				}
				cancel()
			case <-purge.C:
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := s.purgeIdempotencyKeys(ctx); err != nil {
					s.log.Warn("purging idempotency keys failed; will retry", "err", err)
				}
				cancel()
			case <-s.views.stop:
				return
			}
		}
	}()
}

// viewChunk bounds the articles one flush statement updates.
const viewChunk = 500

// FlushViews adds the views counted in memory to the database now.
func (s *Store) FlushViews(ctx context.Context) error {
	// Waiting for a running flush is bounded by ctx like the flush itself.
	select {
	case s.views.flushing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("flush views: waiting for the running flush: %w", ctx.Err())
	}
	defer func() { <-s.views.flushing }()
	batch := s.views.take()
	if batch == nil {
		return nil
	}
	ids := make([]int64, 0, len(batch))
	for id := range batch {
		ids = append(ids, id)
	}
	// In id order, a chunk's rows lie close together in the primary key.
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	// Each chunk commits on its own: a flush that cannot finish
	// in time (a backlog after a burst of reads) still saves what it got through, and
	// gives back only the rest, rather than failing whole, again and again.
	db := s.db.WithContext(ctx)
	for start := 0; start < len(ids); start += viewChunk {
		chunk := ids[start:min(start+viewChunk, len(ids))]
		err := ctx.Err()
		if err == nil {
			err = db.Transaction(func(tx *gorm.DB) error { return addViews(tx, s.dialect, chunk, batch) })
		}
		if err != nil {
			rest := make(map[int64]int64, len(ids)-start)
			for _, id := range ids[start:] {
				rest[id] = batch[id]
			}
			s.views.giveBack(rest)
			return fmt.Errorf("flush views (%d of %d articles saved): %w", start, len(ids), s.classify(err))
		}
		s.views.saved(chunk)
	}
	return nil
}

// viewFlushLock is the key of the PostgreSQL advisory lock that makes the flushes of all
// replicas take turns. It is not the migrations' (migrationLockID): a long migration
// stalled every replica's flush when the two shared a key. (During a rolling upgrade
// from a binary where they did, old and new replicas flush without taking turns: a
// deadlock between two of their flushes is then possible, detected by PostgreSQL, and
// the flush that loses is retried with its views.)
const viewFlushLock = 0x766965777366_6c75 // "viewsflu"

func addViews(tx *gorm.DB, d Dialect, ids []int64, counts map[int64]int64) error {
	if d == Postgres {
		// One flush transaction at a time across replicas, so two flushes never lock
		// rows in different orders and never deadlock. This costs one lock, where
		// locking the rows in id order (SELECT … FOR UPDATE) was four tenths of the
		// flush's time. Other writers of article_views lock one row each.
		//
		// The commit does not wait for its WAL to reach the disk: views are counted in
		// memory for up to a second anyway, and a database crash may now lose a fraction
		// of a second more of them. No client was promised a view count.
		var idList, nList strings.Builder
		idList.WriteByte('{')
		nList.WriteByte('{')
		for i, id := range ids {
			if i > 0 {
				idList.WriteByte(',')
				nList.WriteByte(',')
			}
			idList.WriteString(strconv.FormatInt(id, 10))
			nList.WriteString(strconv.FormatInt(counts[id], 10))
		}
		idList.WriteByte('}')
		nList.WriteByte('}')
		if err := tx.Exec("SET LOCAL synchronous_commit = off").Error; err != nil {
			return err
		}
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(viewFlushLock)).Error; err != nil {
			return err
		}
		// Two array parameters, whatever the chunk's size: one statement to plan.
		return tx.Exec(`UPDATE article_views AS a SET views = a.views + v.n
			FROM unnest(?::bigint[], ?::bigint[]) AS v(id, n) WHERE a.article_id = v.id`,
			idList.String(), nList.String()).Error
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?),", len(ids)), ",")
	args := make([]any, 0, 2*len(ids))
	for _, id := range ids {
		args = append(args, id, counts[id])
	}
	return tx.Exec(`WITH v(id, n) AS (VALUES `+values+`)
		UPDATE article_views SET views = views + (SELECT n FROM v WHERE v.id = article_views.article_id)
		WHERE article_id IN (SELECT id FROM v)`, args...).Error
}

// untilClose returns a context that Close cancels, for the work a serving store does in
// the background.
func (s *Store) untilClose() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-s.views.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// keepSearch keeps the search vocabulary and heads (at once, then every
// VocabularyEvery) until Close, which cancels a rebuild under way.
func (s *Store) keepSearch() {
	defer close(s.searchKept)
	ctx, cancel := s.untilClose()
	defer cancel()
	tick := time.NewTicker(VocabularyEvery)
	defer tick.Stop()
	for {
		kctx, kcancel := context.WithTimeout(ctx, 10*time.Minute)
		if err := s.keepVocabulary(kctx); err != nil && ctx.Err() == nil {
			s.log.Warn("refreshing the search vocabulary failed; will retry", "err", err)
		}
		kcancel()
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}
