package wasim

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgStore persists simulator state in Postgres (tables prefixed wasim_).
type pgStore struct {
	pool *pgxpool.Pool
}

func (s *Server) load(ctx context.Context) error                                   { return nil }
func (s *Server) persistAccountLocked(a *account)                                  {}
func (s *Server) persistCompanionLocked(d *companion)                              {}
func (s *Server) deleteCompanionLocked(d *companion)                               {}
func (s *Server) persistQueueAddLocked(d *companion, key string, raw []byte)       {}
func (s *Server) persistQueueDelLocked(d *companion, key string)                   {}
func (s *Server) persistPatchLocked(a *account, name string, v uint64, raw []byte) {}
func (s *Server) persistPhoneLocked(p *Phone)                                      {}
