package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"gorm.io/gorm"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// WorkOf runs fn and returns what the statements it ran through GORM cost the database,
// counted, not timed, in a unit of each dialect's own:
//   - PostgreSQL: the rows the statements' plans examined, from EXPLAIN ANALYZE (the rows
//     each scan node passed on and the rows its filters threw away, over all loops);
//   - SQLite: the virtual machine steps of each statement, run once more on a connection
//     of its own (sqlite3_stmt_status), which grow with the rows a statement reads.
func (s *Store) WorkOf(ctx context.Context, fn func() error) (int64, error) {
	type statement struct {
		sql  string
		vars []any
	}
	var ran []statement
	record := func(tx *gorm.DB) {
		ran = append(ran, statement{tx.Statement.SQL.String(), append([]any(nil), tx.Statement.Vars...)})
	}
	// Reads go through the read pool, writes through the writer: both are watched.
	pools := []*gorm.DB{s.db}
	if s.rdb != s.db {
		pools = append(pools, s.rdb)
	}
	for _, db := range pools {
		cb := db.Callback()
		if err := errors.Join(
			cb.Query().After("gorm:query").Register("test:work_query", record),
			cb.Row().After("gorm:row").Register("test:work_row", record),
		); err != nil {
			return 0, err
		}
	}
	err := fn()
	for _, db := range pools {
		cb := db.Callback()
		_ = cb.Query().Remove("test:work_query")
		_ = cb.Row().Remove("test:work_row")
	}
	if err != nil {
		return 0, err
	}
	var work int64
	for _, st := range ran {
		var n int64
		if s.dialect == Postgres {
			n, err = s.rowsExamined(ctx, st.sql, st.vars)
		} else {
			n, err = sqliteSteps(s.loc.DSN, st.sql, st.vars)
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", st.sql, err)
		}
		work += n
	}
	return work, nil
}

func (s *Store) rowsExamined(ctx context.Context, query string, vars []any) (int64, error) {
	var plan string
	if err := s.sqlDB.QueryRowContext(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+query, vars...).Scan(&plan); err != nil {
		return 0, err
	}
	var explained []struct{ Plan planNode }
	if err := json.Unmarshal([]byte(plan), &explained); err != nil {
		return 0, err
	}
	var rows int64
	for _, e := range explained {
		rows += e.Plan.rowsExamined()
	}
	return rows, nil
}

type planNode struct {
	Relation      string     `json:"Relation Name"`
	Index         string     `json:"Index Name"`
	ActualRows    float64    `json:"Actual Rows"`
	Loops         float64    `json:"Actual Loops"`
	RemovedFilter float64    `json:"Rows Removed by Filter"`
	RemovedCheck  float64    `json:"Rows Removed by Index Recheck"`
	Plans         []planNode `json:"Plans"`
}

// rowsExamined adds up, over the scan nodes of a plan, the rows read from a table or an
// index: those passed on and those a filter threw away (PostgreSQL reports both per loop).
func (n planNode) rowsExamined() int64 {
	var rows float64
	if n.Relation != "" || n.Index != "" {
		rows = (n.ActualRows + n.RemovedFilter + n.RemovedCheck) * n.Loops
	}
	total := int64(math.Round(rows))
	for _, c := range n.Plans {
		total += c.rowsExamined()
	}
	return total
}

// sqliteSteps runs one statement on a read-only connection of its own to the database
// file and returns its virtual machine steps.
func sqliteSteps(path, query string, vars []any) (int64, error) {
	tls := libc.NewTLS()
	defer tls.Close()
	cPath, err := libc.CString(path)
	if err != nil {
		return 0, err
	}
	defer libc.Xfree(tls, cPath)
	var db uintptr
	if rc := sqlite3.Xsqlite3_open_v2(tls, cPath, uintptr(unsafe.Pointer(&db)), sqlite3.SQLITE_OPEN_READONLY, 0); rc != sqlite3.SQLITE_OK {
		return 0, fmt.Errorf("open %s: code %d", path, rc)
	}
	defer sqlite3.Xsqlite3_close(tls, db)
	sqlite3.Xsqlite3_busy_timeout(tls, db, 10000)
	errmsg := func(what string) error {
		return fmt.Errorf("%s: %s", what, libc.GoString(sqlite3.Xsqlite3_errmsg(tls, db)))
	}
	cQuery, err := libc.CString(query)
	if err != nil {
		return 0, err
	}
	defer libc.Xfree(tls, cQuery)
	var stmt uintptr
	if rc := sqlite3.Xsqlite3_prepare_v2(tls, db, cQuery, -1, uintptr(unsafe.Pointer(&stmt)), 0); rc != sqlite3.SQLITE_OK {
		return 0, errmsg("prepare")
	}
	defer sqlite3.Xsqlite3_finalize(tls, stmt)
	var texts []uintptr
	defer func() {
		for _, p := range texts {
			libc.Xfree(tls, p)
		}
	}()
	for i, v := range vars {
		if valuer, ok := v.(driver.Valuer); ok {
			if v, err = valuer.Value(); err != nil {
				return 0, err
			}
		}
		pos := int32(i + 1)
		var rc int32
		switch x := v.(type) {
		case nil:
			rc = sqlite3.Xsqlite3_bind_null(tls, stmt, pos)
		case int:
			rc = sqlite3.Xsqlite3_bind_int64(tls, stmt, pos, int64(x))
		case int64:
			rc = sqlite3.Xsqlite3_bind_int64(tls, stmt, pos, x)
		case bool:
			rc = sqlite3.Xsqlite3_bind_int64(tls, stmt, pos, map[bool]int64{false: 0, true: 1}[x])
		case string, time.Time:
			text, ok := x.(string)
			if !ok {
				// As the driver writes times (modernc.org/sqlite).
				text = x.(time.Time).Format("2006-01-02 15:04:05.999999999-07:00")
			}
			p, err := libc.CString(text)
			if err != nil {
				return 0, err
			}
			texts = append(texts, p)
			rc = sqlite3.Xsqlite3_bind_text(tls, stmt, pos, p, -1, ^uintptr(0)) // SQLITE_TRANSIENT: copied
		default:
			return 0, fmt.Errorf("argument %d: cannot bind %T", i+1, v)
		}
		if rc != sqlite3.SQLITE_OK {
			return 0, errmsg(fmt.Sprintf("bind %d", i+1))
		}
	}
	for {
		rc := sqlite3.Xsqlite3_step(tls, stmt)
		if rc == sqlite3.SQLITE_DONE {
			break
		}
		if rc != sqlite3.SQLITE_ROW {
			return 0, errmsg(fmt.Sprintf("step (code %d)", rc))
		}
	}
	return int64(sqlite3.Xsqlite3_stmt_status(tls, stmt, sqlite3.SQLITE_STMTSTATUS_VM_STEP, 0)), nil
}
