// parseHostPort / formatHostPort: host:port strings from config and flags, IPv6 in brackets.

import { describe, expect, it } from 'vitest';
import { formatHostPort, parseHostPort } from '../../src/core/address.js';

describe('parseHostPort', () => {
  it.each([
    { text: '127.0.0.1:8080', host: '127.0.0.1', port: 8080, why: 'an IPv4 literal and port' },
    { text: 'localhost:80', host: 'localhost', port: 80, why: 'a bare host name' },
    { text: 'api.example.com:443', host: 'api.example.com', port: 443, why: 'a dotted host name' },
    { text: 'web-1.service.consul:8500', host: 'web-1.service.consul', port: 8500, why: 'hyphens in a host name' },
    { text: '[::1]:8080', host: '::1', port: 8080, why: 'an IPv6 literal loses its brackets' },
    { text: '[2001:db8::42]:9000', host: '2001:db8::42', port: 9000, why: 'a longer IPv6 literal' },
    { text: '[::ffff:10.0.0.1]:80', host: '::ffff:10.0.0.1', port: 80, why: 'an IPv4-mapped IPv6 literal' },
    { text: 'host:0', host: 'host', port: 0, why: 'port 0 (any free port) is accepted' },
    { text: 'host:65535', host: 'host', port: 65535, why: 'the highest port is accepted' },
    { text: 'host:0080', host: 'host', port: 80, why: 'leading zeros in the port are ignored' },
  ])('$text: $why', ({ text, host, port }) => {
    expect(parseHostPort(text)).toEqual({ host, port });
  });

  it.each([
    { text: '', why: 'the empty string' },
    { text: 'localhost', why: 'no port' },
    { text: 'localhost:', why: 'an empty port' },
    { text: ':8080', why: 'no host' },
    { text: 'host:65536', why: 'a port above 65535' },
    { text: 'host:123456', why: 'a port with more than five digits' },
    { text: 'host:-1', why: 'a negative port' },
    { text: 'host:http', why: 'a service name instead of a port' },
    { text: 'host:80 ', why: 'trailing whitespace' },
    { text: 'my host:80', why: 'whitespace in the host' },
    { text: '::1:8080', why: 'an IPv6 literal without brackets' },
    { text: '[::1]', why: 'a bracketed IPv6 literal without a port' },
    { text: '[::1]8080', why: 'no colon between bracket and port' },
    { text: '[example.com]:80', why: 'brackets around something that is not an IP literal' },
    { text: 'http://host:80', why: 'a URL rather than host:port' },
    { text: 'host:80/path', why: 'a path after the port' },
  ])('rejects "$text": $why', ({ text }) => {
    expect(parseHostPort(text)).toBeUndefined();
  });
});

describe('formatHostPort', () => {
  it.each([
    { host: '127.0.0.1', port: 8080, text: '127.0.0.1:8080', why: 'IPv4 is written plainly' },
    { host: 'example.com', port: 80, text: 'example.com:80', why: 'a host name is written plainly' },
    { host: '::1', port: 8080, text: '[::1]:8080', why: 'IPv6 is bracketed' },
    { host: '2001:db8::42', port: 9000, text: '[2001:db8::42]:9000', why: 'any host with a colon is bracketed' },
  ])('$host and $port → $text: $why', ({ host, port, text }) => {
    expect(formatHostPort(host, port)).toBe(text);
  });

  it.each(['127.0.0.1:1', 'example.com:80', '[::1]:8080', '[2001:db8::42]:65535'])('%s survives parse then format unchanged', (text) => {
    const hp = parseHostPort(text)!;
    expect(formatHostPort(hp.host, hp.port)).toBe(text);
  });
});
