package natsd

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// storeKeyCheck is the file, in the data directory, that says JetStream's
// files there are encrypted and with which key (an HMAC of a constant, not
// the key). nats-server does not load streams it cannot decrypt: started
// without the key, or with another, it would find no streams, and proxmon
// would create empty ones over the encrypted data. The check refuses to
// start instead.
const storeKeyCheck = "store-key-check"

func keyCheck(key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("proxmon store key check v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// checkStoreKey refuses a data directory encrypted with another key, or
// without one when it is encrypted, and records the key's check when the
// directory is (about to be) encrypted for the first time. nats-server
// encrypts plaintext files at the first start with a key.
func checkStoreKey(dir, key string) error {
	file := filepath.Join(dir, storeKeyCheck)
	b, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if key == "" {
			return nil
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		return os.WriteFile(file, []byte(keyCheck(key)+"\n"), 0o600)
	case err != nil:
		return err
	case key == "":
		return fmt.Errorf("%s is encrypted at rest: give its store key (--store-key-file)", dir)
	case !hmac.Equal([]byte(strings.TrimSpace(string(b))), []byte(keyCheck(key))):
		return fmt.Errorf("the store key does not fit %s, which was encrypted with another one", dir)
	}
	return nil
}
