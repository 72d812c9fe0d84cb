"""Apps and their actions: what each node does, behind one small interface."""
