import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { openLinksOutside } from './lib/links';

const target = document.getElementById('app');
if (target == null) throw new Error('Parley: #app is missing from index.html');

openLinksOutside();

export default mount(App, { target });
