"""The funder's own learning: tags (themes) on updates, interactions, threads and notes,
and learning notes that draw on updates and interactions across partners."""
