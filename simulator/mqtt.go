package simulator

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"
)

// The simulator speaks MQTT 3.1.1 itself rather than through paho: a fleet
// of ten thousand devices is ten thousand connections, one per device (each
// authenticates as itself), and a paho client costs several goroutines and
// a token per message. A conn costs one goroutine (its reader) and writes
// each PUBLISH, built in place in a reused buffer, with one system call.
// It does what a device needs and no more: QoS 1 publishes, QoS 0
// subscriptions to its own warning and command topics, clean sessions.

// MQTT 3.1.1 control packet types (spec section 2.2.1).
const (
	pktConnect    = 1
	pktConnack    = 2
	pktPublish    = 3
	pktPuback     = 4
	pktSubscribe  = 8
	pktSuback     = 9
	pktPingresp   = 13
	pktDisconnect = 14
)

// errRefused is returned by dial when the broker refuses the connection.
var errRefused = errors.New("connection refused")

// conn is one device's MQTT connection.
type conn struct {
	nc net.Conn
	r  *bufio.Reader

	wmu    sync.Mutex
	wbuf   []byte
	nextID uint16
}

// writeTimeout bounds a write to a broker that stopped reading.
const writeTimeout = 10 * time.Second

// dial connects to broker (tcp://host:port or tls://host:port) as
// clientID with user name and password, with a clean session and no keep
// alive: the simulator's devices may stay silent longer than any keep
// alive, as a device in a tunnel does.
func dial(ctx context.Context, broker string, tlsConfig *tls.Config, clientID, user, password string) (*conn, error) {
	u, err := url.Parse(broker)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("broker %q: want tcp://host:port or tls://host:port", broker)
	}
	var nc net.Conn
	d := net.Dialer{Timeout: 10 * time.Second}
	switch u.Scheme {
	case "tcp", "mqtt":
		nc, err = d.DialContext(ctx, "tcp", u.Host)
	case "tls", "ssl", "mqtts":
		td := tls.Dialer{NetDialer: &d, Config: tlsConfig}
		nc, err = td.DialContext(ctx, "tcp", u.Host)
	default:
		return nil, fmt.Errorf("broker %q: unknown scheme %q", broker, u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, r: bufio.NewReaderSize(nc, 512), wbuf: make([]byte, 0, 256)}
	// CONNECT (3.1): protocol name, level 4, flags user+password+clean
	// session, keep alive 0; payload client id, user name, password.
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0xC2, 0, 0}
	body = appendString(body, clientID)
	body = appendString(body, user)
	body = appendString(body, password)
	pkt := appendHeader(nil, pktConnect<<4, len(body))
	if deadline, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(deadline)
	} else {
		_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	}
	if _, err := nc.Write(append(pkt, body...)); err != nil {
		nc.Close()
		return nil, err
	}
	typ, _, b, err := c.read()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connack: %w", err)
	}
	if typ != pktConnack || len(b) != 2 {
		nc.Close()
		return nil, fmt.Errorf("connack: unexpected packet type %d", typ)
	}
	if b[1] != 0 {
		nc.Close()
		return nil, fmt.Errorf("%w: return code %d", errRefused, b[1])
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// subscribe subscribes to filters at QoS 0 and waits for the SUBACK; call
// it before the reader runs. A filter the broker refuses is an error.
func (c *conn) subscribe(filters ...string) error {
	body := []byte{0, 1}
	for _, f := range filters {
		body = appendString(body, f)
		body = append(body, 0)
	}
	pkt := appendHeader(nil, pktSubscribe<<4|2, len(body))
	_ = c.nc.SetDeadline(time.Now().Add(15 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	if _, err := c.nc.Write(append(pkt, body...)); err != nil {
		return err
	}
	for {
		typ, _, b, err := c.read()
		if err != nil {
			return fmt.Errorf("suback: %w", err)
		}
		if typ != pktSuback {
			continue
		}
		if len(b) != 2+len(filters) {
			return fmt.Errorf("suback: %d return codes for %d filters", len(b)-2, len(filters))
		}
		for i, rc := range b[2:] {
			if rc&0x80 != 0 {
				return fmt.Errorf("subscription to %s refused", filters[i])
			}
		}
		return nil
	}
}

// publish sends a QoS 1 PUBLISH of topic whose payload payload appends to
// the buffer it is given, and returns its packet id. The packet is built
// in place: five bytes are kept for the fixed header, which is written
// once the length is known.
func (c *conn) publish(topic string, payload func([]byte) []byte) (uint16, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	b := append(c.wbuf[:0], 0, 0, 0, 0, 0)
	b = appendString(b, topic)
	b = binary.BigEndian.AppendUint16(b, c.nextID)
	b = payload(b)
	n := len(b) - 5
	var hb [5]byte
	hdr := appendHeader(hb[:0], pktPublish<<4|2, n)
	start := 5 - len(hdr)
	copy(b[start:], hdr)
	c.wbuf = b
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.nc.Write(b[start:])
	return c.nextID, err
}

// handler receives what the broker sends: PUBACKs by packet id, and
// PUBLISHes (QoS 0) by topic.
type handler interface {
	puback(id uint16)
	message(topic string, payload []byte)
}

// serve reads packets until the connection fails or closes.
func (c *conn) serve(h handler) error {
	for {
		typ, flags, b, err := c.read()
		if err != nil {
			return err
		}
		switch typ {
		case pktPuback:
			if len(b) == 2 {
				h.puback(binary.BigEndian.Uint16(b))
			}
		case pktPublish:
			if len(b) < 2 {
				return errors.New("short PUBLISH")
			}
			n := int(binary.BigEndian.Uint16(b))
			if 2+n > len(b) {
				return errors.New("bad PUBLISH topic length")
			}
			topic, rest := string(b[2:2+n]), b[2+n:]
			if qos := flags >> 1 & 3; qos > 0 {
				// Not asked for (the subscriptions are QoS 0), but
				// acknowledged as the protocol requires.
				if len(rest) < 2 {
					return errors.New("short PUBLISH")
				}
				id := rest[:2]
				rest = rest[2:]
				c.wmu.Lock()
				_, err := c.nc.Write([]byte{pktPuback << 4, 2, id[0], id[1]})
				c.wmu.Unlock()
				if err != nil {
					return err
				}
			}
			h.message(topic, rest)
		case pktPingresp, pktSuback:
		default:
			return fmt.Errorf("unexpected packet type %d", typ)
		}
	}
}

// close sends DISCONNECT and closes the connection.
func (c *conn) close() {
	c.wmu.Lock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write([]byte{pktDisconnect << 4, 0})
	c.wmu.Unlock()
	c.nc.Close()
}

// read reads one control packet: its type, flags and the rest after the
// fixed header.
func (c *conn) read() (typ, flags byte, body []byte, err error) {
	h, err := c.r.ReadByte()
	if err != nil {
		return 0, 0, nil, err
	}
	// Remaining length (2.2.3): up to four bytes, seven bits each.
	n, mult := 0, 1
	for i := 0; ; i++ {
		d, err := c.r.ReadByte()
		if err != nil {
			return 0, 0, nil, err
		}
		n += int(d&0x7f) * mult
		if d&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, 0, nil, errors.New("malformed remaining length")
		}
		mult *= 128
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, 0, nil, err
	}
	return h >> 4, h & 0x0f, body, nil
}

// appendHeader appends a fixed header: the first byte and the remaining
// length.
func appendHeader(b []byte, first byte, n int) []byte {
	b = append(b, first)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// appendString appends an MQTT UTF-8 string: two bytes of length, then the
// bytes.
func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
