"""Everything that runs on a conventional computer: the reference trainer."""
