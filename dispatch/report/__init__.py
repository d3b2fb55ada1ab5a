"""What a plan tells people: the summary, unassigned rows and courier route sheets."""
