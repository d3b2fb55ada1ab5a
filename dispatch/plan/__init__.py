"""Planning a day: option and result types, the echelon model, the stages, the day, replanning."""
