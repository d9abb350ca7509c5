package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
)

// TestPasswordsNeverShown gives database settings of every shape a password can take,
// some that parse, some that do not, some that reach no server, and checks that no
// error and no redacted form shows any part of the password. Each password is two halves
// around the character that trips a parser, so a half that leaks is caught too.
func TestPasswordsNeverShown(t *testing.T) {
	const left, right = "Lft7pw", "Rgt9pw"
	for _, tt := range []struct {
		name, settings string
	}{
		{"hash in the password", "postgres://u:" + left + "#" + right + "@127.0.0.1:1/db"},
		{"slash in the password", "postgres://u:" + left + "/" + right + "@127.0.0.1:1/db"},
		{"digits and a slash", "postgres://u:123/" + left + right + "@127.0.0.1:1/db"},
		{"bad escape in the password", "postgres://u:" + left + "%zz" + right + "@127.0.0.1:1/db"},
		{"question mark in the password", "postgres://u:" + left + "?" + right + "@127.0.0.1:1/db"},
		{"at sign in the password", "postgres://u:" + left + "@" + right + "@127.0.0.1:1/db"},
		{"escaped password", "postgres://u:" + left + "%23" + right + "@127.0.0.1:1/db"},
		{"password parameter", "postgres://u@127.0.0.1:1/db?sslmode=disable&password=" + left + right},
		{"several hosts", "postgres://u:" + left + right + "@127.0.0.1:1,127.0.0.1:2/db"},
		{"bad port", "postgres://u:" + left + right + "@127.0.0.1:99999999/db"},
		{"keyword/value", "host=127.0.0.1 port=1 user=app password=" + left + right + " dbname=x"},
		{"keyword/value, quoted", "host=127.0.0.1 port=1 user=app password='" + left + " " + right + "' dbname=x"},
		{"keyword/value, spaced", "host=127.0.0.1 port=1 user=app password = " + left + right + " dbname=x"},
		{"keyword/value, bad port", "host=127.0.0.1 port=notaport password=" + left + right},
	} {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what, text string) {
				t.Helper()
				for _, half := range []string{left, right} {
					if strings.Contains(text, half) {
						t.Errorf("%s shows part of the password: %s", what, text)
					}
				}
			}
			check("Redact", store.Redact(tt.settings))
			_, err := store.ParseURL(tt.settings)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err = store.Open(ctx, tt.settings, store.Options{ConnectTimeout: time.Second})
				if err == nil {
					t.Fatalf("Open(%s) reached a database", store.Redact(tt.settings))
				}
			}
			check("the error", err.Error())
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error has several lines: %q", err)
			}
			t.Logf("%s", err)
		})
	}
}

func TestRedactShapes(t *testing.T) {
	for raw, want := range map[string]string{
		"postgres://user:pw@h/db":                          "postgres://user:xxxxx@h/db",
		"postgres://user@h/db?password=pw&x=1":             "postgres://user@h/db?password=xxxxx&x=1",
		"postgres://h/db":                                  "postgres://h/db",
		"postgres://u:p#w@h:5432/db":                       "postgres://xxxxx@h:5432/db",
		"postgres://u:1/2@h/db":                            "postgres://xxxxx@h/db",
		"postgres://u:pw@h1:5432,h2:5432/db?sslpassword=k": "postgres://u:xxxxx@h1:5432,h2:5432/db?sslpassword=xxxxx",
		"host=h user=u password=pw dbname=d":               "host=h user=u password=xxxxx dbname=d",
		"host=h password='a b\\' c' dbname=d":              "host=h password=xxxxx dbname=d",
		"password = pw host=h":                             "password=xxxxx host=h",
	} {
		if got := store.Redact(raw); got != want {
			t.Errorf("Redact(%q) = %q, want %q", raw, got, want)
		}
	}
}
