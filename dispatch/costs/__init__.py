"""Who pays what: allocation rules (Shapley, proportional) and the parties' shares of a plan."""
