package wasim

import (
	"context"
	"fmt"
	"time"
)

// groupSchema holds the simulator's group tables (created by load with
// the rest of the schema). The group record is gob-encoded like the other
// simulator records; participants have their own rows.
const groupSchema = `
CREATE TABLE IF NOT EXISTS wasim_groups (
	id   text PRIMARY KEY,
	data bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS wasim_group_participants (
	gid   text NOT NULL REFERENCES wasim_groups (id) ON DELETE CASCADE,
	pn    text NOT NULL,
	role  text NOT NULL,
	pos   integer NOT NULL,
	added timestamptz NOT NULL,
	PRIMARY KEY (gid, pn)
);
`

// persistGroupLocked stores the group and its participants in one transaction.
func (s *Server) persistGroupLocked(g *group) {
	if s.db == nil {
		return
	}
	stmts := []stmt{
		{`INSERT INTO wasim_groups (id, data) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET data=excluded.data`, []any{g.ID, encodeGob(g)}},
		{`DELETE FROM wasim_group_participants WHERE gid=$1`, []any{g.ID}},
	}
	for i, m := range g.members {
		stmts = append(stmts, stmt{`INSERT INTO wasim_group_participants (gid, pn, role, pos, added) VALUES ($1, $2, $3, $4, $5)`,
			[]any{g.ID, m.PN, m.Role, i, m.Added}})
	}
	_ = s.write(stmts...)
}

// loadGroupsLocked creates the group tables and restores the groups.
func (s *Server) loadGroupsLocked(ctx context.Context) error {
	pool := s.db.pool
	if _, err := pool.Exec(ctx, groupSchema); err != nil {
		return fmt.Errorf("create group tables: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT id, data FROM wasim_groups`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var data []byte
		if err = rows.Scan(&id, &data); err != nil {
			rows.Close()
			return err
		}
		g := &group{}
		if err = decodeGob(data, g); err != nil {
			rows.Close()
			return fmt.Errorf("group %s: %w", id, err)
		}
		if g.SKDM == nil {
			g.SKDM = map[string][]string{}
		}
		s.groups[id] = g
	}
	rows.Close()
	if err = rows.Err(); err != nil {
		return err
	}
	rows, err = pool.Query(ctx, `SELECT gid, pn, role, added FROM wasim_group_participants ORDER BY gid, pos`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var gid, pn, role string
		var added time.Time
		if err = rows.Scan(&gid, &pn, &role, &added); err != nil {
			return err
		}
		if g := s.groups[gid]; g != nil {
			g.members = append(g.members, &groupMember{PN: pn, Role: role, Added: added})
		}
	}
	return rows.Err()
}
