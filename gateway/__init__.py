"""Ways out: subscribers read only what they are authorized for; admins manage grants."""
