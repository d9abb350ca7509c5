package store

import (
	"context"
	"sync/atomic"

	"gorm.io/gorm"
)

// The pools a request's statements go through: the primary (every write; every read when
// no read replicas are configured, the embedded database's readers included) and the
// read replicas. A request can learn which served it (see WithPoolUse), for its log line
// and its metric.
const (
	PoolPrimary = "primary"
	PoolReplica = "replica"
)

// PoolUse records which pools served one request.
type PoolUse struct{ primary, replica atomic.Bool }

type poolUseKey struct{}

// WithPoolUse returns a context whose store calls record in the PoolUse which pools
// served them.
func WithPoolUse(ctx context.Context) (context.Context, *PoolUse) {
	u := &PoolUse{}
	return context.WithValue(ctx, poolUseKey{}, u), u
}

// String names the pools used: "primary", "replica", "primary+replica", or "" for none.
func (u *PoolUse) String() string {
	switch p, r := u.primary.Load(), u.replica.Load(); {
	case p && r:
		return PoolPrimary + "+" + PoolReplica
	case p:
		return PoolPrimary
	case r:
		return PoolReplica
	}
	return ""
}

func markPool(ctx context.Context, pool string) {
	if u, ok := ctx.Value(poolUseKey{}).(*PoolUse); ok {
		if pool == PoolReplica {
			u.replica.Store(true)
		} else {
			u.primary.Store(true)
		}
	}
}

// reader is the handle a request's reads go through.
func (s *Store) reader(ctx context.Context) *gorm.DB {
	markPool(ctx, s.readPool)
	return s.rdb.WithContext(ctx)
}

// writer is the handle a request's writes (and the reads that must see the primary) go
// through.
func (s *Store) writer(ctx context.Context) *gorm.DB {
	markPool(ctx, PoolPrimary)
	return s.db.WithContext(ctx)
}

// PoolsUsed names the pools that served the requests of a context made by WithPoolUse
// ("" when none did, or the context has no PoolUse).
func PoolsUsed(ctx context.Context) string {
	if u, ok := ctx.Value(poolUseKey{}).(*PoolUse); ok {
		return u.String()
	}
	return ""
}
