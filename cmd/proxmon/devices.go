package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// minDeviceSecret is the shortest device secret hash-secret accepts: the
// secrets are generated, not remembered, and the bcrypt hashes end up in
// case files that several people read.
const minDeviceSecret = 16

// hashSecret is `proxmon devices hash-secret`: it reads a device's MQTT
// secret from the first line of stdin and prints its bcrypt hash, the
// mqtt_password_bcrypt of the device in the case file.
func hashSecret(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devices hash-secret", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt `cost` (4-31); each step doubles the CPU time of a device's first connection after a restart")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: proxmon devices hash-secret [--cost N] < secret

Reads a device's MQTT secret from the first line of stdin and prints its
bcrypt hash, for mqtt_password_bcrypt in the case file. Generate the secret
(16 to 72 characters), for instance: openssl rand -base64 32`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
		fmt.Fprintf(stderr, "proxmon devices hash-secret: --cost %d: want %d to %d\n", *cost, bcrypt.MinCost, bcrypt.MaxCost)
		return exitUsage
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "proxmon devices hash-secret: read stdin: %v\n", err)
		return exitFault
	}
	secret := strings.TrimRight(line, "\r\n")
	switch {
	case len(secret) < minDeviceSecret:
		fmt.Fprintf(stderr, "proxmon devices hash-secret: the secret on stdin is shorter than %d characters; generate one with: openssl rand -base64 32\n", minDeviceSecret)
		return exitFault
	case len(secret) > 72:
		// bcrypt reads no further; refuse rather than silently ignore the rest.
		fmt.Fprintln(stderr, "proxmon devices hash-secret: the secret on stdin is longer than 72 bytes, all bcrypt uses")
		return exitFault
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(secret), *cost)
	if err != nil {
		fmt.Fprintf(stderr, "proxmon devices hash-secret: %v\n", err)
		return exitFault
	}
	fmt.Fprintf(stdout, "%s\n", hash)
	return exitOK
}
