// Package store keeps articles in PostgreSQL or in an embedded SQLite file. It owns the
// schema (versioned SQL migrations embedded per dialect), the GORM models and the queries;
// callers see plain Go types and the sentinel errors below, never GORM.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libtnb/sqlite"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// ErrNotFound is returned when the article asked for does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrVersionMismatch is returned when a conditional change finds the article at another
// version than the one expected: someone else changed it first.
var ErrVersionMismatch = errors.New("store: version mismatch")

// ErrUnavailable wraps errors that say the database cannot be reached or did not answer
// in time (as opposed to a request it rejected): retrying later may succeed.
var ErrUnavailable = errors.New("store: database unavailable")

// ErrSchema, always with ErrUnavailable, says the database does not have the tables this
// binary needs (not migrated yet, or `migrate down` while serving): `migrate up` mends it.
var ErrSchema = errors.New("store: the database schema is older than this binary needs")

// ErrStorageFull, always with ErrUnavailable, says a write was refused for want of space
// (a full disk): nothing of it was written, and writes succeed again once space is freed.
var ErrStorageFull = errors.New("store: the database's storage is full")

// Dialect names the database behind a Store.
type Dialect string

// The dialects a Store can run on.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DefaultSQLitePath is where the embedded database lives when no URL is configured.
const DefaultSQLitePath = "articlesd.db"

// Location says which database a URL selects and how to reach it.
type Location struct {
	Dialect Dialect
	// DSN is what the driver is given: a PostgreSQL URL, or the SQLite file path.
	DSN string
}

// Options tune a Store. The zero value is usable.
type Options struct {
	// MaxOpenConns bounds the PostgreSQL pool (default 8). The embedded database writes
	// through one connection (SQLite has a single writer, and one connection serialises
	// the writes) and reads through a pool of SQLiteReaders read-only connections beside
	// it, which WAL lets read while the writer writes.
	MaxOpenConns int
	// SQLiteReaders bounds the embedded database's read pool (default
	// DefaultSQLiteReaders).
	SQLiteReaders int
	// ConnectTimeout bounds the first contact with the database (default 5s).
	ConnectTimeout time.Duration
	// TracerProvider, when set, gets a span for every SQL statement (text only, never
	// the values bound to it).
	TracerProvider trace.TracerProvider
	// Logger, when set, gets a DEBUG line for every change the store makes.
	Logger *slog.Logger
	// ViewFlushInterval is how often views counted in memory are written (default 1s).
	ViewFlushInterval time.Duration
	// Serving makes this process known as a server of the database to the others
	// (see ServersConnected).
	Serving bool
	// ReadURL, when set (PostgreSQL only), is where reads go: listings, search, popular
	// articles and articles by id; writes, token checks and view flushes stay on the
	// database of the URL Open is given. A multi-host URL with
	// target_session_attrs=prefer-standby reads from the standbys.
	ReadURL string
}

// DefaultSQLiteReaders is the size of the embedded database's read pool when
// Options.SQLiteReaders is zero: enough that a long read (a large article, a search)
// does not hold up the short ones behind it.
const DefaultSQLiteReaders = 4

// Store reads and writes articles.
type Store struct {
	db    *gorm.DB
	sqlDB *sql.DB
	// rdb is what reads go through: for SQLite a pool of read-only connections beside
	// the single writer db; for PostgreSQL the pool of Options.ReadURL, or db itself.
	rdb      *gorm.DB
	readSQL  *sql.DB // rdb's, when it is not db's
	readPool string  // what rdb is called in PoolUse: PoolReplica or PoolPrimary
	// getStmt is, on SQLite, getArticleSQL prepared on the read pool: at its first use,
	// since the schema may not exist when the store opens.
	getStmt     atomic.Pointer[sql.Stmt]
	prepareMu   sync.Mutex
	dialect     Dialect
	loc         Location
	tracer      trace.Tracer // of the statements run outside GORM; nil: none
	log         *slog.Logger
	views       *viewCounter
	vocab       vocabulary    // the words typo tolerance corrects to
	stems       stemmer       // SQLite: the terms of a query's words, for the search heads
	searchKept  chan struct{} // closed when keepSearch has stopped
	rankingKept chan struct{} // closed when keepRanking has stopped

	closeOnce sync.Once
	lastUse   sync.Map    // token name → when its last use was last written
	full      atomic.Bool // a write failed for want of space, and none has succeeded since
	release   func()      // gives up what Options.Serving took
}

// withConnectTimeout bounds each new PostgreSQL connection (connect_timeout), unless the
// URL sets its own bound. database/sql opens some connections in the background, with no
// deadline of the caller's: when the database's address swallowed packets, such a dial
// waited forever and held its place in the pool after the database was back, until no
// request could get a connection.
func withConnectTimeout(dsn string, d time.Duration) string {
	seconds := strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
	if !strings.Contains(dsn, "://") {
		// Keyword/value settings: a later keyword does not override an earlier one in
		// pgx, so it is added only when absent.
		if strings.Contains(dsn, "connect_timeout") {
			return dsn
		}
		return dsn + " connect_timeout=" + seconds
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	if q.Has("connect_timeout") {
		return dsn
	}
	q.Set("connect_timeout", seconds)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open connects to the database a URL names (see ParseURL) and checks that it answers.
// It does not migrate: call MigrateUp for that.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 8
	}
	if opts.SQLiteReaders <= 0 {
		opts.SQLiteReaders = DefaultSQLiteReaders
	}
	var dialector gorm.Dialector
	switch loc.Dialect {
	case Postgres:
		dsn := withConnectTimeout(loc.DSN, opts.ConnectTimeout)
		if opts.Serving {
			dsn = withApplicationName(dsn, servingName())
		}
		dialector = postgres.Open(dsn)
	case SQLite:
		dialector = sqlite.Open(sqliteDSN(loc.DSN))
	}
	db, sqlDB, err := openPool(dialector, loc, opts)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch loc.Dialect {
	case Postgres:
		sqlDB.SetMaxOpenConns(opts.MaxOpenConns)
		sqlDB.SetMaxIdleConns(opts.MaxOpenConns)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	case SQLite:
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
		sqlDB.SetConnMaxLifetime(0)
	}
	s := &Store{db: db, sqlDB: sqlDB, rdb: db, readPool: PoolPrimary, dialect: loc.Dialect, loc: loc, log: opts.Logger, views: newViewCounter()}
	if opts.TracerProvider != nil {
		s.tracer = opts.TracerProvider.Tracer("github.com/articlesd/articlesd/store")
	}
	pingCtx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	// The writer first: its first connection puts a new file in WAL mode, which the
	// readers then find.
	if err := s.Ping(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, connectError(loc, err)
	}
	if opts.ReadURL != "" {
		if err := s.openReadReplicas(pingCtx, opts); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	if loc.Dialect == SQLite {
		rdb, readSQL, err := openPool(sqlite.Open(sqliteReadDSN(loc.DSN)), loc, opts)
		if err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
		readSQL.SetMaxOpenConns(opts.SQLiteReaders)
		readSQL.SetMaxIdleConns(opts.SQLiteReaders)
		readSQL.SetConnMaxLifetime(0)
		s.rdb, s.readSQL = rdb, readSQL
		if err := s.Ping(pingCtx); err != nil {
			_ = s.closePools()
			return nil, connectError(loc, err)
		}
	}
	if opts.ViewFlushInterval <= 0 {
		opts.ViewFlushInterval = DefaultViewFlushInterval
	}
	if opts.Serving && loc.Dialect == SQLite {
		release, err := holdShared(loc.DSN)
		if err != nil {
			_ = s.closePools()
			return nil, fmt.Errorf("open sqlite database %s: mark it served: %w", loc.DSN, err)
		}
		s.release = release
	}
	s.startFlusher(opts.ViewFlushInterval, opts.Serving)
	return s, nil
}

// openReadReplicas opens the pool of Options.ReadURL, the one reads go through.
func (s *Store) openReadReplicas(ctx context.Context, opts Options) error {
	loc, err := ParseURL(opts.ReadURL)
	if err != nil {
		return fmt.Errorf("read replicas: %w", err)
	}
	if loc.Dialect != Postgres || s.dialect != Postgres {
		return errors.New("read replicas: both database URLs must be PostgreSQL's")
	}
	dsn := withConnectTimeout(loc.DSN, opts.ConnectTimeout)
	if opts.Serving {
		dsn = withApplicationName(dsn, servingName())
	}
	rdb, readSQL, err := openPool(postgres.Open(dsn), loc, opts)
	if err != nil {
		return fmt.Errorf("read replicas: %w", err)
	}
	readSQL.SetMaxOpenConns(opts.MaxOpenConns)
	readSQL.SetMaxIdleConns(opts.MaxOpenConns)
	readSQL.SetConnMaxIdleTime(5 * time.Minute)
	if err := pingPool(ctx, readSQL); err != nil {
		_ = readSQL.Close()
		return fmt.Errorf("read replicas: %w", connectError(loc, err))
	}
	s.rdb, s.readSQL, s.readPool = rdb, readSQL, PoolReplica
	return nil
}

// openPool opens one connection pool through GORM, with the store's settings.
func openPool(dialector gorm.Dialector, loc Location, opts Options) (*gorm.DB, *sql.DB, error) {
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		NowFunc:                now,
		SkipDefaultTransaction: true,
		PrepareStmt:            false,
		TranslateError:         true,
	})
	if err != nil {
		return nil, nil, connectError(loc, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, fmt.Errorf("open %s database: %w", loc.Dialect, err)
	}
	if opts.TracerProvider != nil {
		plugin := tracingPlugin{tracer: opts.TracerProvider.Tracer("github.com/articlesd/articlesd/store"), dialect: loc.Dialect}
		if err := db.Use(plugin); err != nil {
			_ = sqlDB.Close()
			return nil, nil, fmt.Errorf("database tracing: %w", err)
		}
	}
	return db, sqlDB, nil
}

// connectError says in one line why a database could not be reached: the network
// error or the server's own message, naming the host that gave it (pgx reports one line
// per host it tried; all are kept), never a password.
func connectError(loc Location, err error) error {
	reason := pgxReason(err)
	if errors.Is(err, context.DeadlineExceeded) && !strings.Contains(reason, "timeout") {
		reason = "no answer (timed out): " + reason
	}
	if r := refusal(err); r != nil {
		reason = r.Error()
	}
	if loc.Dialect == Postgres {
		return fmt.Errorf("connect to postgres at %s: %s", Redact(loc.DSN), scrub(reason, loc.DSN))
	}
	return fmt.Errorf("open sqlite database %s: %s", loc.DSN, reason)
}

// sqliteDSN turns a file path into a driver DSN with the pragmas the embedded database
// needs: WAL so readers do not block the writer, full fsync so an acknowledged write
// survives a crash, foreign keys for cascading tag deletes, and a busy timeout for a
// second process (migrate while serving) sharing the file.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_txlock", "immediate")
	q.Add("_time_format", sqliteTimeFormat)
	return sqliteFile(path) + "?" + q.Encode()
}

// sqliteReadDSN is the DSN of the read pool's connections. query_only makes them refuse
// every write, so that a write sent there by mistake fails at once rather than contend
// with the writer for the lock; their transactions (none is begun today) are deferred,
// so they never ask for the write lock. In WAL mode each statement reads the snapshot of
// the last commit: a read sees every write acknowledged before it began. The busy
// timeout covers the moments a reader must wait all the same (the recovery of a WAL left
// by a crash, a checkpoint that resets the WAL).
func sqliteReadDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	// Pages read through a memory map rather than a read system call each.
	q.Add("_pragma", "mmap_size(268435456)")
	q.Add("_txlock", "deferred")
	q.Add("_time_format", sqliteTimeFormat)
	return sqliteFile(path) + "?" + q.Encode()
}

// sqliteTimeFormat names how the driver writes times, in stored rows and in the arguments
// of queries alike: "2006-01-02 15:04:05.999999999-07:00", the form SQLite's date
// functions read, and the one databases made before the driver changed hold (times
// compare as text). The GORM driver asks for it too when a DSN names none; said here,
// it does not hang on that default: modernc.org/sqlite's own is time.Time.String
// ("… +0000 UTC"), which compares with neither. TestSQLiteTimeText checks the text.
const sqliteTimeFormat = "sqlite"

// sqliteFile is the file: URI of a path, where %, ? and # have meanings of their own.
func sqliteFile(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// now is the clock for every timestamp the store writes: UTC, at the microsecond
// precision that PostgreSQL keeps, so what is returned equals what is read back later.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// Dialect says which database the store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks that the database answers (through every pool: the embedded database's
// readers, the read replicas).
func (s *Store) Ping(ctx context.Context) error {
	for _, db := range []*sql.DB{s.sqlDB, s.readSQL} {
		if db != nil {
			if err := pingPool(ctx, db); err != nil {
				return err
			}
		}
	}
	return nil
}

// pingPool checks that a pool's database answers queries.
func pingPool(ctx context.Context, db *sql.DB) error {
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	// A ping can succeed on an idle pooled connection to a server that no longer
	// serves queries; a trivial query tells the truth.
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Ready checks that the store can serve: the database answers, its schema has every
// migration of this binary, and, once a write was
// refused for want of space, that there is room again. With writes failing a balancer
// should send requests elsewhere; and with no requests coming, nothing else would find
// out that space was freed.
//
// With read replicas, the store is ready while they answer: reads go on while no primary
// does (a failover), and writes are answered 503 until one does again.
func (s *Store) Ready(ctx context.Context) error {
	if s.readPool == PoolReplica {
		if err := pingPool(ctx, s.readSQL); err != nil {
			return fmt.Errorf("read replicas: %w", s.classify(err))
		}
		return s.checkSchema(ctx)
	}
	if err := s.Ping(ctx); err != nil {
		return err
	}
	if err := s.checkSchema(ctx); err != nil {
		return err
	}
	if !s.full.Load() {
		return nil
	}
	if err := s.hasRoom(ctx); err != nil {
		return fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrStorageFull, err)
	}
	s.full.Store(false)
	return nil
}

// minRoom is the free space the embedded database needs before it is ready again after a
// full disk: room for the largest article and its index entries, several times over.
const minRoom = 4 << 20

// hasRoom tells whether writes that were refused for want of space can succeed again.
// SQLite: the file system holds at least minRoom and the file is minRoom short of its
// page limit (a write to the write-ahead log may reuse its space and succeed while the
// next article would fail, so a trial write would not tell). PostgreSQL: a trivial
// committed write succeeds (its newest schema_migrations row, written to itself).
func (s *Store) hasRoom(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	if s.dialect == Postgres {
		return db.Exec("UPDATE schema_migrations SET applied_at = applied_at WHERE version = (SELECT max(version) FROM schema_migrations)").Error
	}
	if free, ok := freeBytes(s.loc.DSN); ok && free < minRoom {
		return fmt.Errorf("%d bytes free beside %s, want %d", free, s.loc.DSN, minRoom)
	}
	var pageSize, pages, maxPages int64
	for q, v := range map[string]*int64{"PRAGMA page_size": &pageSize, "PRAGMA page_count": &pages, "PRAGMA max_page_count": &maxPages} {
		if err := db.Raw(q).Scan(v).Error; err != nil {
			return err
		}
	}
	if (maxPages-pages)*pageSize < minRoom {
		return fmt.Errorf("%d of at most %d pages used", pages, maxPages)
	}
	return nil
}

// Close writes the views still counted in memory and releases the connection pool.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.views.stop)
		<-s.views.done
		<-s.searchKept
		<-s.rankingKept
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.FlushViews(ctx); err != nil {
			s.log.Error("views lost at close", "err", err)
		}
		if s.release != nil {
			s.release()
		}
	})
	return s.closePools()
}

func (s *Store) closePools() error {
	var rerr error
	if st := s.getStmt.Load(); st != nil {
		_ = st.Close()
	}
	if s.readSQL != nil {
		rerr = s.readSQL.Close()
	}
	return errors.Join(s.sqlDB.Close(), rerr, s.stems.close())
}
