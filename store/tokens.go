package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"gorm.io/gorm"
)

// ErrTokenExists is returned when a token of that name exists already.
var ErrTokenExists = errors.New("store: a token of that name exists")

// Token describes an API token; the secret itself is never stored.
type Token struct {
	Name       string     `gorm:"column:name;primaryKey"`
	Hash       string     `gorm:"column:hash"`
	CreatedAt  time.Time  `gorm:"column:created_at"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
}

// TableName tells GORM the table.
func (Token) TableName() string { return "api_tokens" }

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// tokenPrefix makes articlesd tokens recognisable (in a leaked file, by a secret scanner).
const tokenPrefix = "ad_"

// HashToken returns the hex SHA-256 of a token secret, the form in which it is stored.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewTokenSecret returns a fresh random token secret (256 bits).
func NewTokenSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// CreateToken makes a token with that name and returns its secret, which is not stored
// and cannot be shown again.
func (s *Store) CreateToken(ctx context.Context, name string) (string, error) {
	if !tokenName.MatchString(name) {
		return "", fmt.Errorf("token name %q: use 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	secret := NewTokenSecret()
	err := s.writer(ctx).Create(&Token{Name: name, Hash: HashToken(secret), CreatedAt: now()}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return "", fmt.Errorf("token %q: %w", name, ErrTokenExists)
	}
	if err != nil {
		return "", fmt.Errorf("create token: %w", s.classify(err))
	}
	return secret, nil
}

// ListTokens returns every token, by name; never their secrets.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	var out []Token
	if err := s.writer(ctx).Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list tokens: %w", s.classify(err))
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
		if out[i].LastUsedAt != nil {
			t := out[i].LastUsedAt.UTC()
			out[i].LastUsedAt = &t
		}
	}
	return out, nil
}

// RevokeToken deletes a token; ErrNotFound when there is none of that name.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	res := s.writer(ctx).Where("name = ?", name).Delete(&Token{})
	if res.Error != nil {
		return fmt.Errorf("revoke token: %w", s.classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// CountTokens returns how many tokens exist.
func (s *Store) CountTokens(ctx context.Context) (int64, error) {
	var n int64
	if err := s.writer(ctx).Model(&Token{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count tokens: %w", s.classify(err))
	}
	return n, nil
}

// lastUseInterval bounds how often a token's last use is written: once a minute is
// enough to tell a used token from a forgotten one, and keeps writes off the hot path.
const lastUseInterval = time.Minute

// VerifyToken returns the name of the token whose secret this is. The stored hash is
// found by the hash of the secret and compared in constant time.
func (s *Store) VerifyToken(ctx context.Context, secret string) (string, bool, error) {
	hash := HashToken(secret)
	var t Token
	err := s.writer(ctx).Where("hash = ?", hash).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("verify token: %w", s.classify(err))
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 {
		return "", false, nil
	}
	if last, ok := s.lastUse.Load(t.Name); !ok || time.Since(last.(time.Time)) > lastUseInterval {
		s.lastUse.Store(t.Name, time.Now())
		if err := s.writer(ctx).Model(&Token{}).Where("name = ?", t.Name).Update("last_used_at", now()).Error; err != nil {
			s.log.WarnContext(ctx, "token last use not recorded", "token", t.Name, "err", err)
		}
	}
	return t.Name, true, nil
}
