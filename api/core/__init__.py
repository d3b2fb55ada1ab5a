"""Process-wide infrastructure: settings (every CODIST_* knob), database engines and
migrations, passwords and tokens."""
